-- The grade store's tables as the first grader with a store made them (sqlite; metadata.create_all,
-- no migrations), with one graded submission and a manual score: tests/test_migrations.py opens it.

CREATE TABLE manual_scores (
	assignment VARCHAR(200) NOT NULL, 
	student VARCHAR(200) NOT NULL, 
	part_id VARCHAR(200) NOT NULL, 
	score FLOAT NOT NULL, 
	comment TEXT NOT NULL, 
	grader VARCHAR(200) NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (assignment, student, part_id)
);

CREATE TABLE overrides (
	assignment VARCHAR(200) NOT NULL, 
	student VARCHAR(200) NOT NULL, 
	part_id VARCHAR(200) NOT NULL, 
	score FLOAT NOT NULL, 
	reason TEXT NOT NULL, 
	grader VARCHAR(200) NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (assignment, student, part_id)
);

CREATE TABLE runs (
	id INTEGER NOT NULL, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	grader_version VARCHAR(32) NOT NULL, 
	key_hashes JSON NOT NULL, 
	command TEXT NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE regrade_history (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	previous_run_id INTEGER, 
	assignment VARCHAR(200) NOT NULL, 
	student VARCHAR(200) NOT NULL, 
	old_score FLOAT, 
	new_score FLOAT NOT NULL, 
	delta FLOAT NOT NULL, 
	parts_changed JSON NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE, 
	FOREIGN KEY(previous_run_id) REFERENCES runs (id) ON DELETE SET NULL
);

CREATE TABLE results (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	assignment VARCHAR(200) NOT NULL, 
	student VARCHAR(200) NOT NULL, 
	position INTEGER NOT NULL, 
	part_id VARCHAR(200) NOT NULL, 
	score FLOAT NOT NULL, 
	max_score FLOAT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	feedback TEXT NOT NULL, 
	answer TEXT, 
	canonical TEXT, 
	kind VARCHAR(32) NOT NULL, 
	matched TEXT, 
	details JSON NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (run_id, assignment, student, part_id), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);

CREATE INDEX ix_results_assignment_student ON results (assignment, student);

CREATE TABLE submissions (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	assignment VARCHAR(200) NOT NULL, 
	student VARCHAR(200) NOT NULL, 
	score FLOAT NOT NULL, 
	max_score FLOAT NOT NULL, 
	key_hash VARCHAR(64), 
	grader_version VARCHAR(32), 
	source TEXT, 
	submitted_at DATETIME, 
	warnings JSON NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (run_id, assignment, student), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);

CREATE INDEX ix_submissions_assignment_student ON submissions (assignment, student);

INSERT INTO runs (id, started_at, finished_at, grader_version, key_hashes, command, kind)
VALUES (1, '2026-03-12 21:30:00.000000', '2026-03-12 21:30:00.000000', '0.1.0', '{"tiny-hw": "0123456789abcdef"}', 'grader run subs --out out', 'run');
INSERT INTO submissions (id, run_id, assignment, student, score, max_score, key_hash, grader_version, source, submitted_at, warnings)
VALUES (1, 1, 'tiny-hw', 'ann', 2.0, 10.0, '0123456789abcdef', '0.1.0', 'ann.toml', NULL, '[]');
INSERT INTO results (id, run_id, assignment, student, position, part_id, score, max_score, status, feedback, answer, canonical, kind, matched, details)
VALUES (1, 1, 'tiny-hw', 'ann', 0, 'q1', 2.0, 2.0, 'correct', 'Correct.', '3', '3', 'exact', NULL, '{}'),
       (2, 1, 'tiny-hw', 'ann', 1, 'q3', 0.0, 5.0, 'manual', 'Graded by hand.', 'Shared weights.', NULL, 'manual', NULL, '{}');
INSERT INTO manual_scores (assignment, student, part_id, score, comment, grader, at)
VALUES ('tiny-hw', 'ann', 'q3', 4.0, 'Good.', 'ta1', '2026-03-12 21:30:00.000000');

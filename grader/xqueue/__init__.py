"""`grader xqueue`: an external grader for edX, pulling from XQueue (docs/xqueue.md).

    protocol.py   XQueue's messages (its envelope, a pulled submission, the reply), bounded
    client.py     the HTTP client: login, get_queuelen, get_submission, put_result; retries
    answers.py    the problem's grader_payload and the student's response as a submission
    reply.py      {correct, score, msg} from a graded report, as the feedback policy shows it
    puller.py     the loop: journal, grade through the one engine, record, post; resuming
"""

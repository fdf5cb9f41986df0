"""The LALR(1) grammar of formula answers (lark syntax).

Kept as a Python string (not a ``.lark`` data file) so packaging can never lose it.
Terminals are produced by :mod:`grader.parsing.lexer` (a custom lexer), hence ``%declare``.

Design notes
- Implicit multiplication is ``prod0 npower``: the right factor may not start with a sign
  (``a -b`` is a subtraction) and may not be a bare number (``2 3`` is rejected, ``2x`` and
  ``2(y-z)`` are products).
- A name directly followed by ``(`` is lexed as FNAME and by ``[`` as TNAME, so ``f(x)``
  and ``X[i, j]`` never conflict with ``V (x+1)``-style products; the resolver decides later
  whether FNAME is a function or a symbol times a bracket.
- A sum is a prefix operator whose body is the following product:
  ``-2(y-z) sum_{i=1}^{4} w_i h_i (1-h_i) x_{i+j-1}`` sums the whole product after it, and
  ``sum_i a_i + b`` is ``(sum_i a_i) + b``.  A sum may only close a product, which keeps
  the grammar free of conflicts (the parser is built with ``strict=True``).
- ``^`` is right-associative and takes a signed operand: ``10^-3``, ``2^2^2``.
- ``\\log x`` (LaTeX function without parentheses, LFUNC) applies to the next power, and
  ``\\tan^2 y`` / ``log^2 n`` (a function power) is ``(tan y)^2``.
- ``a // b`` (DSLASH) is integer division, ``floor(a/b)``, at the precedence of ``/``.
"""

GRAMMAR = r"""
%declare NUMBER NAME FNAME TNAME LFUNC SQRT FRAC SUM
%declare PLUS MINUS STAR SLASH DSLASH CARET UNDERSCORE COMMA EQUAL
%declare LPAR RPAR LSQB RSQB LBRACE RBRACE LBAR RBAR LFLOOR RFLOOR LCEIL RCEIL

?start: sum

?sum: sum PLUS product                  -> add
    | sum MINUS product                 -> sub
    | product

?product: prod0
        | sumop
        | prod0 sumop                   -> imul
        | prod0 STAR sumop              -> mul
        | prod0 SLASH sumop             -> div
        | prod0 DSLASH sumop            -> floordiv
        | MINUS sumop                   -> neg
        | PLUS sumop                    -> pos

?prod0: prod0 STAR unary                -> mul
      | prod0 SLASH unary               -> div
      | prod0 DSLASH unary              -> floordiv
      | prod0 npower                    -> imul
      | unary

?unary: MINUS unary                     -> neg
      | PLUS unary                      -> pos
      | power

?power: base CARET unary                -> pow
      | base
      | LFUNC power                     -> prefix_call
      | LFUNC CARET unary power         -> prefix_power

?npower: nbase CARET unary              -> pow
       | nbase
       | LFUNC power                    -> prefix_call
       | LFUNC CARET unary power        -> prefix_power

?base: NUMBER                           -> number
     | nbase

?nbase: NAME                            -> name
      | NAME UNDERSCORE subscript       -> subscripted
      | TNAME LSQB args RSQB            -> bracket_index
      | FNAME LPAR args RPAR            -> call
      | LPAR sum RPAR                   -> group
      | LSQB sum RSQB                   -> group
      | LBRACE sum RBRACE               -> group
      | LBAR sum RBAR                   -> abs_
      | LFLOOR sum RFLOOR               -> floor_
      | LCEIL sum RCEIL                 -> ceil_
      | FRAC LBRACE sum RBRACE LBRACE sum RBRACE -> frac
      | SQRT LBRACE sum RBRACE          -> sqrt_

subscript: NAME
         | NUMBER
         | LBRACE args RBRACE

args: sum (COMMA sum)*

sumop: SUM UNDERSCORE sumsub sumsup? product

sumsub: sumvar
      | LBRACE sumvars RBRACE
      | LBRACE sumvars EQUAL sum RBRACE

sumvars: sumvar (COMMA sumvar)*

sumvar: NAME
      | NAME UNDERSCORE NUMBER
      | NAME UNDERSCORE LBRACE NUMBER RBRACE

sumsup: CARET NUMBER
      | CARET NAME
      | CARET LBRACE sum RBRACE
"""

"""Practical exercises (TPs): one master notebook per exercise in `solutions/`, the student
versions generated from it (`exercises/`), public self-checks, and a sandboxed grader.

- `notebook`   nbgrader markers; solution -> exercise generation; the in-sync check
- `extract`    a submission's definitions (imports, functions, classes, constants) via `ast`,
               and the flags for graded code that uses the course's reference implementation
- `sandbox`    one separate, limited process per submission (`child` runs inside it)
- `spec`, `tp1`, `tp2`  the tests: inputs and expected values made in the grading process,
               probes that run the submission and return plain arrays, judges with partial credit
- `grade`      a folder of submissions -> gradebook CSV + one feedback file per student
- `selfcheck`  the public checks students run in their notebook (feedback in words)
"""

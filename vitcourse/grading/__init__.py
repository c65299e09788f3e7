"""Practical exercises (TPs): one master notebook per exercise in `solutions/`, the student
versions generated from it (`exercises/`), public self-checks, and a sandboxed grader.

- `notebook`   nbgrader markers; solution -> exercise generation; the in-sync check
- `extract`    a submission's definitions (imports, functions, classes, constants) via `ast`
- `flags`      graded code that uses the course's reference implementation
- `sandbox`    one separate, limited process per submission (`child` runs inside it);
               `codec` the pickle-free plain data it sends back
- `spec`, `tp1`, `tp2`  the tests: inputs and expected values made in the grading process,
               probes that run the submission and return plain arrays, judges (`judge`) with
               partial credit; `reference` the master notebook's definitions, `local` the same
               tests in-process for nbgrader-style hidden test cells
- `grade`, `report`, `config`  a folder of submissions -> gradebook CSV + one feedback file per
               student, with rubric, late penalty and the course formula; `cli` the commands;
               `bench` the grading-time benchmark
- `selfcheck`  the public checks students run in their notebook (feedback in words)
"""

"""Side-by-side benchmarks: Berth against the real Docker engine on the same machine.

`python -m bench` starts a fresh Berth engine of its own, reuses (or starts) the
host's dockerd, and drives both through the same docker CLI, alternating between
them so machine load falls on both alike. Every figure is a median over many runs;
the result that matters is the ratio Berth/Docker, checked against the targets in
`bench.cases`. Results go to stdout, `bench/results/latest.json` and
`bench/results/latest.md`.

Modules: `engines` (the two engines, their set-up and clean-up), `measure`
(timing and interleaving), `memory` (PSS of engine processes), `cases` and
`cases_more` and `cases_registry` (the benchmarks), `report` (table, JSON, markdown).
"""

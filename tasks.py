"""Invoke tasks: the front door. Each task parses its flags, calls one core function, renders.

Exit codes (every task): 0 success, 2 usage error, 3 data error, 4 partial failure,
5 stopped (emergency stop, open breaker or registry locked), 6 checksum drift.
"""

from __future__ import annotations

from invoke import task

from automation.frontdoor import run

ROOT_HELP = "registry checkout to operate on (default: this repository)"
JSON_HELP = "print one JSON document on stdout instead of text"

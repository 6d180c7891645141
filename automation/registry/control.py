"""The control plane (``batch-control.json``): emergency stop and circuit-breaker state.

Unlike the reference pipeline (§3.15), the kit honours ``enabled`` and ``disabled_ecosystems``:
every task calls :func:`check_allowed` (or :func:`check_allowed_now`, which re-reads the file)
before each item. Field names and shapes are tsuku's (§1.10); unknown keys survive a rewrite;
ecosystem keys are normalised (``cargo`` -> ``crates.io``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from automation.core import schemas
from automation.core.atomic import atomic_write_json, registry_lock
from automation.core.ecosystem_facts import normalise_ecosystem
from automation.core.errors import DataError, ExitCode, StoppedError, UsageError
from automation.core.jsondata import loads
from automation.core.layout import RegistryLayout
from automation.core.report import Problem
from automation.core.timefmt import format_timestamp
from automation.core.timefmt import now as clock_now
from automation.registry.breaker import (
    BreakerConfig,
    BreakerState,
    effective,
    record,
    record_batch,
)

_FIELDS = (
    "enabled",
    "disabled_ecosystems",
    "reason",
    "incident_url",
    "disabled_by",
    "disabled_at",
    "expected_resume",
    "circuit_breaker",
    "budget",
)
DEFAULT_BUDGET: Mapping[str, Any] = {
    "macos_minutes_used": 0,
    "linux_minutes_used": 0,
    "week_start": "",
    "sampling_active": False,
}
_SEVERITY = {"closed": 0, "half-open": 1, "open": 2}


@dataclass(frozen=True, slots=True)
class Control:
    """``batch-control.json`` as a value. A missing breaker reads as closed."""

    enabled: bool = True
    disabled_ecosystems: tuple[str, ...] = ()
    reason: str = ""
    incident_url: str = ""
    disabled_by: str = ""
    disabled_at: str = ""
    expected_resume: str = ""
    breakers: Mapping[str, BreakerState] = field(default_factory=dict)
    budget: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_BUDGET))
    extra: Mapping[str, Any] = field(default_factory=dict)  # unknown top-level keys

    def breaker(self, ecosystem: str) -> BreakerState:
        return self.breakers.get(normalise_ecosystem(ecosystem), BreakerState())

    def with_breaker(self, ecosystem: str, state: BreakerState) -> Control:
        breakers = dict(self.breakers)
        breakers[normalise_ecosystem(ecosystem)] = state
        return replace(self, breakers=breakers)

    def stopped_reason(self, ecosystem: str | None) -> str | None:
        """Why the control file stops everything (``None``) or ``ecosystem``; None if allowed."""
        if not self.enabled:
            return _stop_message("emergency stop", self)
        if ecosystem is not None and normalise_ecosystem(ecosystem) in self.disabled_ecosystems:
            return _stop_message(f"ecosystem {normalise_ecosystem(ecosystem)} disabled", self)
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "enabled": self.enabled,
            "disabled_ecosystems": list(self.disabled_ecosystems),
            "reason": self.reason,
            "incident_url": self.incident_url,
            "disabled_by": self.disabled_by,
            "disabled_at": self.disabled_at,
            "expected_resume": self.expected_resume,
            "circuit_breaker": {eco: state.to_json() for eco, state in self.breakers.items()},
            "budget": dict(self.budget),
        }
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out


def _stop_message(what: str, control: Control) -> str:
    details = [f"reason: {control.reason}" if control.reason else ""]
    if control.disabled_by:
        details.append(f"by {control.disabled_by}")
    if control.disabled_at:
        details.append(f"at {control.disabled_at}")
    if control.expected_resume:
        details.append(f"expected resume {control.expected_resume}")
    text = ", ".join(d for d in details if d)
    return f"{what} in batch-control.json" + (f" ({text})" if text else "")


@dataclass(frozen=True, slots=True)
class LoadedControl:
    control: Control
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _merge_breakers(a: BreakerState, b: BreakerState) -> BreakerState:
    """Two keys for one ecosystem (``cargo`` and ``crates.io``): keep the more cautious."""

    def caution(state: BreakerState) -> tuple[int, float]:
        opens = state.opens_at.timestamp() if state.opens_at else float("-inf")
        return (_SEVERITY[state.state], opens)

    keep, other = (a, b) if caution(a) >= caution(b) else (b, a)
    return replace(keep, failures=max(keep.failures, other.failures))


def parse_control(document: Any, rel: str) -> LoadedControl:
    """Validate a decoded control document and build the typed value (normalising prefixes)."""
    problems = schemas.check(document, "batch-control", path=rel)
    if problems or not isinstance(document, dict):
        return LoadedControl(Control(), tuple(problems))
    notes: list[Problem] = []
    disabled: list[str] = []
    for index, eco in enumerate(document.get("disabled_ecosystems", [])):
        normal = normalise_ecosystem(eco)
        if normal != eco:
            notes.append(
                Problem(
                    rel,
                    f"disabled_ecosystems[{index}]",
                    f"{eco!r} read as {normal!r}",
                    "normalised",
                )
            )
        if normal not in disabled:
            disabled.append(normal)
    breakers: dict[str, BreakerState] = {}
    for eco, raw in document.get("circuit_breaker", {}).items():
        normal = normalise_ecosystem(eco)
        try:
            state = BreakerState.from_json(raw)
        except ValueError as exc:
            problems.append(Problem(rel, f"circuit_breaker.{eco}", str(exc)))
            continue
        if normal != eco:
            notes.append(
                Problem(
                    rel,
                    f"circuit_breaker.{eco}",
                    f"breaker {eco!r} read as {normal!r}",
                    "normalised",
                )
            )
        breakers[normal] = _merge_breakers(breakers[normal], state) if normal in breakers else state
    budget = document.get("budget")
    control = Control(
        enabled=document.get("enabled", True),
        disabled_ecosystems=tuple(disabled),
        reason=document.get("reason", ""),
        incident_url=document.get("incident_url", ""),
        disabled_by=document.get("disabled_by", ""),
        disabled_at=document.get("disabled_at", ""),
        expected_resume=document.get("expected_resume", ""),
        breakers=breakers,
        budget=budget if isinstance(budget, dict) else dict(DEFAULT_BUDGET),
        extra={k: v for k, v in document.items() if k not in _FIELDS},
    )
    return LoadedControl(control, tuple(problems + notes))


def read_control(path: Path, *, rel: str | None = None) -> LoadedControl:
    """Read and validate the control file; a missing file is "enabled, all breakers closed"."""
    rel = rel or str(path)
    if not path.exists():
        return LoadedControl(Control(), ())
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return LoadedControl(Control(), (Problem(rel, "", f"not UTF-8: {exc}"),))
    # Deep nesting and out-of-range integers become a Problem (load_control: DataError, exit 3)
    # before anything is built from the document; a RecursionError here killed every task.
    document, problem = loads(text, rel)
    if problem is not None:
        return LoadedControl(Control(), (problem,))
    return parse_control(document, rel)


def load_control(path: Path) -> Control:
    """Read the control file for acting on it; any error raises DataError.

    An unreadable control file stops work rather than being taken as "enabled".
    """
    return require_valid(read_control(path), path)


def require_valid(loaded: LoadedControl, path: Path) -> Control:
    """``loaded.control``, or DataError (exit 3) naming the file when it holds any error."""
    if loaded.errors:
        first = loaded.errors[0]
        more = f" (and {len(loaded.errors) - 1} more)" if len(loaded.errors) > 1 else ""
        raise DataError(f"{first.message}{more}", path=str(path), where=first.where)
    return loaded.control


def save_control(path: Path, control: Control) -> None:
    """Validate and write the control file atomically."""
    document = control.to_json()
    problems = schemas.check(document, "batch-control", path=str(path))
    if problems:
        raise DataError(f"refusing to write an invalid control file: {problems[0]}", path=str(path))
    atomic_write_json(path, document)


def control_lock_path(layout: RegistryLayout) -> Path:
    # Not the registry lock: a stop must get through while a long batch holds that one.
    return layout.cache_dir / "batch-control.lock"


def _sweep_control_temp(layout: RegistryLayout) -> None:
    # Only holders of the control lock write the control file: its temp file is a killed writer's.
    for stale in layout.control_file.parent.glob(f".{layout.control_file.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def sweep_control_temp(layout: RegistryLayout) -> None:
    """Remove what a writer of the control file killed mid-write left behind."""
    if layout.control_file.parent.is_dir():
        with registry_lock(control_lock_path(layout), timeout=30):
            _sweep_control_temp(layout)


def update_control(layout: RegistryLayout, change: Callable[[Control], Control]) -> Control:
    """Re-read, change and write the control file under a short lock; returns the new value.

    Writers (stop, resume, breaker updates of a running batch) each re-read right before they
    write, so none of them overwrites another's change.
    """
    with registry_lock(control_lock_path(layout), timeout=30):
        _sweep_control_temp(layout)
        current = load_control(layout.control_file)
        updated = change(current)
        if updated != current or not layout.control_file.exists():
            save_control(layout.control_file, updated)
        return updated


def record_outcome(
    control: Control, ecosystem: str, success: bool, now: datetime, config: BreakerConfig
) -> Control:
    """``control`` with one outcome of ``ecosystem`` recorded in its breaker."""
    eco = normalise_ecosystem(ecosystem)
    return control.with_breaker(eco, record(control.breaker(eco), success, now, config))


def record_batch_outcomes(
    control: Control,
    ecosystem: str,
    outcomes: Sequence[bool],
    now: datetime,
    config: BreakerConfig,
) -> Control:
    """``control`` with one batch's outcomes of ``ecosystem`` recorded at once
    (:func:`automation.registry.breaker.record_batch`)."""
    eco = normalise_ecosystem(ecosystem)
    return control.with_breaker(eco, record_batch(control.breaker(eco), outcomes, now, config))


def check_allowed(
    control: Control,
    ecosystem: str | None,
    *,
    now: datetime | None = None,
    config: BreakerConfig | None = None,
) -> None:
    """Raise StoppedError if the control file stops ``ecosystem`` (or everything).

    With ``now``, an open breaker whose cooldown has not ended stops the ecosystem too.
    """
    reason = control.stopped_reason(ecosystem)
    if reason:
        raise StoppedError(reason)
    if now is not None and ecosystem is not None:
        state = effective(control.breaker(ecosystem), now, config or BreakerConfig())
        if state.state == "open":
            until = f" until {format_timestamp(state.opens_at)}" if state.opens_at else ""
            raise StoppedError(
                f"circuit breaker for {normalise_ecosystem(ecosystem)} is open{until}"
            )


def check_allowed_now(layout: RegistryLayout, ecosystem: str | None) -> None:
    """:func:`check_allowed` on the file as it is now (a stop takes effect mid-batch)."""
    check_allowed(load_control(layout.control_file), ecosystem)


@dataclass(frozen=True, slots=True)
class ControlReport:
    """The result of `invoke stop` / `invoke resume`."""

    action: str
    control: Control
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "message": self.message, "control": self.control.to_json()}

    def to_text(self) -> str:
        c = self.control
        state = "enabled" if c.enabled else "STOPPED"
        lines = [self.message, f"pipeline: {state}"]
        if c.disabled_ecosystems:
            lines.append("disabled ecosystems: " + ", ".join(c.disabled_ecosystems))
        if c.reason:
            lines.append(f"reason: {c.reason}")
        return "\n".join(lines)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK


def _check_ecosystem(ecosystem: str) -> str:
    normal = normalise_ecosystem(ecosystem)
    if not normal or not schemas.is_valid({"disabled_ecosystems": [normal]}, "batch-control"):
        raise UsageError(f"invalid ecosystem name {ecosystem!r}")
    return normal


def emergency_stop(
    layout: RegistryLayout,
    reason: str,
    ecosystem: str | None = None,
    *,
    by: str = "",
    incident_url: str = "",
    expected_resume: str = "",
    now: datetime | None = None,
) -> ControlReport:
    """Stop everything (``enabled=false``) or one ecosystem (``disabled_ecosystems``).

    Reason, author and time are recorded either way (the runbook's fields, §3.15).
    """
    if not reason.strip():
        raise UsageError("an emergency stop needs a reason")
    eco = _check_ecosystem(ecosystem) if ecosystem else None
    stamp = format_timestamp(now or clock_now())

    def change(control: Control) -> Control:
        updated = replace(
            control,
            reason=reason,
            disabled_by=by,
            disabled_at=stamp,
            incident_url=incident_url or control.incident_url,
            expected_resume=expected_resume or control.expected_resume,
        )
        if eco is None:
            return replace(updated, enabled=False)
        if eco in control.disabled_ecosystems:
            return updated
        return replace(updated, disabled_ecosystems=(*control.disabled_ecosystems, eco))

    control = update_control(layout, change)
    what = f"ecosystem {eco} disabled" if eco else "emergency stop: all batch work stopped"
    return ControlReport("stop", control, what)


def resume(
    layout: RegistryLayout, ecosystem: str | None = None, *, close_breaker: bool = False
) -> ControlReport:
    """Lift the global stop (``ecosystem=None``) or re-enable one ecosystem.

    The stop's reason/by/at fields are cleared once nothing is stopped any more.
    ``close_breaker`` also closes that ecosystem's circuit breaker with a fresh window (an
    operator who fixed what opened it need not wait for the cooldown and the probes); its trip
    count goes back to zero, the rest of its record is kept.
    """
    eco = _check_ecosystem(ecosystem) if ecosystem else None
    if close_breaker and eco is None:
        raise UsageError("closing a circuit breaker needs --ecosystem (which breaker to close)")
    was = ""

    def change(control: Control) -> Control:
        nonlocal was
        if eco is not None and close_breaker:
            breaker = control.breaker(eco)
            was = breaker.state
            control = control.with_breaker(
                eco,
                replace(
                    breaker, state="closed", window=(), trips=0, probe_failures=0, opens_at=None
                ),
            )
        if eco is None:
            updated = replace(control, enabled=True)
        else:
            remaining = tuple(e for e in control.disabled_ecosystems if e != eco)
            updated = replace(control, disabled_ecosystems=remaining)
        if updated.enabled and not updated.disabled_ecosystems:
            updated = replace(
                updated,
                reason="",
                disabled_by="",
                disabled_at="",
                incident_url="",
                expected_resume="",
            )
        return updated

    control = update_control(layout, change)
    what = f"ecosystem {eco} re-enabled" if eco else "pipeline resumed"
    if close_breaker:
        what += f"; its circuit breaker closed (was {was})"
    if control.disabled_ecosystems:
        what += " (still disabled: " + ", ".join(control.disabled_ecosystems) + ")"
    return ControlReport("resume", control, what)

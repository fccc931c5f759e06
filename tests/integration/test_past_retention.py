"""Retention of what was pushed, end to end on Radicale: ``calsync retention set`` (a rule of the practice's
privacy policy) makes every past visit of the tenant busy-only in the next sweeper run (the resync a policy
change schedules), and the sweeper's policy-boundaries job rewrites each later visit on the day the policy says,
within its budget and resumed by the next run when the budget runs out."""

from __future__ import annotations

from typer.testing import CliRunner

from calsync.cli.main import app
from calsync.domain.model import ClientDisplay, PrivacySettings
from calsync.domain.policy import PrivacyPolicy
from calsync.services import engine, policies, sweeper
from calsync.store import policies as stored_policies
from calsync.store import sweeps
from devstack.stack import LocalStack
from tests.support.reliability import Clock, Ehr, connect, shown

DETAILED = PrivacySettings(client_display=ClientDisplay.INTERNAL_ID, show_visit_type=True)


def titles(clinician: object) -> list[str]:
    return sorted(title for title, _ in shown(clinician))  # type: ignore[arg-type]


def test_setting_the_policy_makes_past_visits_busy_only_and_clearing_it_restores_them(
        stack: LocalStack, tenant_id: str, ehr: Ehr, clock: Clock) -> None:
    clinician = connect(stack, tenant_id, "dr-okafor", privacy=DETAILED)
    past = [ehr.change(f"apt-{n}", 9 + n, day_offset=-(3 + n), visit_type="Therapy") for n in range(3)]
    future = ehr.change("apt-9", 9, day_offset=2, visit_type="Therapy")
    for change in [*past, future]:
        engine.handle_change(change, clock.now)
    assert sum("Therapy" in t for t in titles(clinician)) == 4

    result = CliRunner().invoke(app, ["retention", "set", "--tenant", tenant_id, "--days", "2"])
    assert result.exit_code == 0 and "privacy policy version 1" in result.stdout, result.output
    stored = stored_policies.get(tenant_id)
    assert stored is not None and stored.policy.past_busy_after_days == 2
    sweeper.run(clock.advance(minutes=2))  # the resync the policy change scheduled
    now_shown = titles(clinician)
    assert now_shown.count("Busy") == 3 and "Therapy" in now_shown[-1]  # the future visit keeps its details

    result = CliRunner().invoke(app, ["retention", "clear", "--tenant", tenant_id])
    assert result.exit_code == 0, result.output
    sweeper.run(clock.advance(minutes=2))
    assert sum("Therapy" in t for t in titles(clinician)) == 4


def test_the_sweeper_neutralises_each_visit_on_its_day_within_its_budget(stack: LocalStack, tenant_id: str,
                                                                         ehr: Ehr, clock: Clock) -> None:
    clinician = connect(stack, tenant_id, "dr-okafor", privacy=PrivacySettings())
    policies.change(tenant_id, PrivacyPolicy(past_busy_after_days=1), None, clock.now)
    sweeper.run(clock.advance(minutes=2))  # the resync the change scheduled, before anything is pushed
    for change in [ehr.change(f"apt-{n}", 8 + n, day_offset=1) for n in range(3)]:  # tomorrow
        engine.handle_change(change, clock.now)
    assert "Busy" not in titles(clinician)

    report = sweeper.run(clock.advance(days=3), budget=sweeper.Budget(syncs=2))  # about two days after them
    assert titles(clinician).count("Busy") == 2 and report.neutralised == 2 and report.cut_short
    report = sweeper.run(clock.advance(minutes=1))  # the next run goes on from the stored cursor
    assert titles(clinician) == ["Busy"] * 3 and report.neutralised == 1
    report = sweeper.run(clock.advance(minutes=1))  # the pass is done: nothing again before the next one
    assert report.neutralised == 0 and sweeps.get(policies.horizon_task(tenant_id), clock.now) is not None

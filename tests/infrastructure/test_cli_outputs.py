"""``calsync --stack`` finds every resource it needs in the stack's outputs: each output the command reads is
declared in template.yaml, and each setting calsync's code requires is filled by one of them."""

from __future__ import annotations

from calsync.cli.target import OUTPUTS, REQUIRED
from calsync.core.settings import Settings
from devstack.cfn_template import function_environment, load_template, ref_target

TEMPLATE = load_template()


def test_every_output_the_command_reads_is_declared():
    missing = sorted(set(OUTPUTS) - set(TEMPLATE["Outputs"]))
    assert not missing, f"template.yaml lacks the outputs calsync --stack reads: {missing}"


def test_every_setting_the_functions_get_from_a_resource_comes_from_an_output():
    """The operator's commands run calsync's own code: each table, the bus and the dead-letter queue the
    functions are given must reach it too."""
    given = {name: ref_target(value) for function in ("OnAppointmentChangeFunction", "RetrySweeperFunction")
             for name, value in function_environment(TEMPLATE, function).items() if ref_target(value)}
    from_outputs = {variable: ref_target(TEMPLATE["Outputs"][output]["Value"]) for output, variable in OUTPUTS.items()}
    for variable, resource in given.items():
        assert variable in from_outputs, f"{variable} (from {resource}) is not in any output calsync --stack reads"
        assert from_outputs[variable] == resource, f"{variable}: the output names {from_outputs[variable]}"


def test_the_required_settings_are_among_them():
    assert set(REQUIRED) <= Settings.required_variables() <= set(OUTPUTS.values())

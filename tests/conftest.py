import pytest

from dbt_runner import DbtResult, run_dbt


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory) -> DbtResult:
    """The bundled demo, built once per test session exactly as `make demo` builds it."""
    result = run_dbt(["build"], tmp_path_factory.mktemp("demo_build"))
    assert result.ok, result.output[-6000:]
    return result

from system_under_test.common.migrations import run_env
from system_under_test.payments.orm import metadata

run_env(metadata)

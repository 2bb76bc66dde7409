from system_under_test.common.migrations import run_env

run_env()

from system_under_test.bookings.orm import metadata
from system_under_test.common.migrations import run_env

run_env(metadata)

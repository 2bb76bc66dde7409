-- wrk script: no change to the requests; prints one JSON line with the figures at the end.

function done(summary, latency, requests)
  io.write(string.format(
    '{"seconds": %f, "answers": %d, "errors": %d, "p50_ms": %f, "p95_ms": %f}\n',
    summary.duration / 1e6, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.timeout + summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000))
end

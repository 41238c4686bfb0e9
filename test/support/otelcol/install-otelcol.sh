#!/usr/bin/env bash
# Builds the OpenTelemetry Collector the OTLP metrics test sends to (an OTLP receiver and the debug
# exporter, builder-config.yaml beside this script) from the Go module proxy with the collector's own
# builder, once, into ${PGCDC_OTELCOL_DIR:-~/.cache/pgcdc-otelcol}; prints the binary's path. Takes
# about four minutes on two cores the first time; nothing after that.
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin"  # where the machine keeps Go when it is not on PATH
here="$(cd "$(dirname "$0")" && pwd)"
dir="${PGCDC_OTELCOL_DIR:-$HOME/.cache/pgcdc-otelcol}"
binary="$dir/build/pgcdc-otelcol"
if [ ! -x "$binary" ]; then
  mkdir -p "$dir"
  GOBIN="$dir/bin" GOFLAGS=-buildvcs=false go install go.opentelemetry.io/collector/cmd/builder@v0.165.0 >&2
  (cd "$dir" && GOFLAGS=-buildvcs=false "$dir/bin/builder" --config "$here/builder-config.yaml" >&2)
fi
echo "$binary"

#!/usr/bin/env bash
# Renders a report.html in headless Chromium (Debian's `chromium`) to PNG
# screenshots, a laptop-sized one and a phone-sized one, to look at what a
# person sees. Usage: scripts/screenshot-report.sh REPORT_HTML [OUT_DIR]
set -euo pipefail
html=$(realpath "$1")
out=$(realpath -m "${2:-$(dirname "$html")}")
mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
shot() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --window-size="$1" \
    --screenshot="$out/$2" "file://$html" 2>/dev/null
}
shot 1280,2400 report-laptop.png
shot 390,2400 report-phone.png
echo "wrote $out/report-laptop.png and $out/report-phone.png"

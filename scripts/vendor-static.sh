#!/usr/bin/env bash
# Re-vendor the front-end assets from the npm registry (run by a developer, never at run time).
# Versions are pinned here; the files are committed under static/vendor/.
set -euo pipefail
cd "$(dirname "$0")/.."
BOOTSTRAP=5.3.9 HTMX=2.0.11 ECHARTS=5.6.0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "bootstrap@$BOOTSTRAP" "htmx.org@$HTMX" "echarts@$ECHARTS" >/dev/null)
for f in "$tmp"/*.tgz; do d="$tmp/$(basename "$f" .tgz)"; mkdir -p "$d"; tar xzf "$f" -C "$d"; done
cp "$tmp/bootstrap-$BOOTSTRAP/package/dist/css/bootstrap.min.css" "$tmp/bootstrap-$BOOTSTRAP/package/dist/js/bootstrap.bundle.min.js" "$tmp/bootstrap-$BOOTSTRAP/package/LICENSE" static/vendor/bootstrap/
cp "$tmp/htmx.org-$HTMX/package/dist/htmx.min.js" "$tmp/htmx.org-$HTMX/package/LICENSE" static/vendor/htmx/
cp "$tmp/echarts-$ECHARTS/package/dist/echarts.min.js" "$tmp/echarts-$ECHARTS/package/LICENSE" static/vendor/echarts/
echo "vendored bootstrap $BOOTSTRAP, htmx $HTMX, echarts $ECHARTS"

#!/usr/bin/env bash
# Vendor KaTeX into docs/assets/katex/ from its npm tarball, so that math renders with no CDN
# (the site works offline and makes no request to another origin).
#
# Reproduces the committed files byte for byte. To upgrade: set VERSION and INTEGRITY (from
# `npm view katex@VERSION dist.integrity`), run `scripts/vendor_katex.sh`, rebuild, and check
# a page with math (see README.md, "Math").
#
# What it keeps: katex.min.js (run at build time by hooks/katex_math.py; not published),
# katex.min.css, LICENSE, and the
# woff2 fonts the CSS names. The CSS's @font-face rules are cut down to their woff2 source:
# every browser the theme supports reads woff2, and the woff/ttf copies would triple the size.
set -euo pipefail

VERSION=0.16.47
INTEGRITY=sha512-Eeo8Ys1doU1z+x8AZsPpQu+p/QcZBI5PeOo7QGQdy2x2m0MU/hYagBbGOmXwr5KVbEfVuWv9LpnQWeehogurjg==

root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/docs/assets/katex
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "katex@$VERSION" >/dev/null)
tarball=$work/katex-$VERSION.tgz
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ $actual != "$INTEGRITY" ]]; then
    echo "katex-$VERSION.tgz: integrity $actual, expected $INTEGRITY" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work"
dist=$work/package/dist

rm -rf "$dest"
mkdir -p "$dest/fonts"
cp "$work/package/LICENSE" "$dest/LICENSE"
cp "$dist/katex.min.js" "$dest/katex.min.js"
sed -E 's#,url\(fonts/[A-Za-z0-9_-]+\.woff\) format\("woff"\),url\(fonts/[A-Za-z0-9_-]+\.ttf\) format\("truetype"\)##g' \
    "$dist/katex.min.css" >"$dest/katex.min.css"
if grep -Eq '\.(woff|ttf)\)' "$dest/katex.min.css"; then
    echo "katex.min.css: a woff or ttf source is left; update the sed expression" >&2
    exit 1
fi
grep -Eo 'fonts/[A-Za-z0-9_-]+\.woff2' "$dest/katex.min.css" | sort -u | while read -r font; do
    cp "$dist/$font" "$dest/$font"
done
echo "KaTeX $VERSION vendored into ${dest#"$root"/}"

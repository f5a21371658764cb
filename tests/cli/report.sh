#!/bin/bash
# vitrun report from the command line: a run directory of toy-world pictures
# (PNG and JPEG, one under a hostile file name), JSON results and a markdown
# table becomes one self-contained page; every kind of bad input fails with
# a clear message and leaves no file behind.  Then, when chromium is
# installed, a headless browser opens the page: every picture decodes (the
# page's check script writes the counts into <body>; a copy with one picture
# corrupted must count one fewer, so the check can fail), no injected element
# appears in the DOM, and its screenshot is not blank.
set -u
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
V="$B/vitrun"
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass+1)); }
bad() { echo "not ok - $1"; fail=$((fail+1)); }

# expect NAME PATTERN CMD...: fails cleanly, message matches PATTERN, nothing written at $T/out*
expect() {
  local name=$1 pat=$2; shift 2
  rm -rf "$T"/out*
  "$@" > "$T/log" 2>&1; local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then bad "$name: exit status $rc"; cat "$T/log"; return; fi
  if ! grep -qiE -- "$pat" "$T/log"; then bad "$name: message does not match /$pat/:"; cat "$T/log"; return; fi
  if ls -d "$T"/out* > /dev/null 2>&1; then bad "$name: output left behind: $(ls -d "$T"/out*)"; return; fi
  ok "$name: $(head -1 "$T/log" | cut -c1-150)"
}

# a run directory
R="$T/run"
mkdir -p "$R/grids" "$R/tables"
"$V" toyworld generate --seed 3 --count 3 -o "$T/png" > /dev/null 2>&1 &&
  "$V" toyworld generate --seed 4 --count 1 --format jpeg -o "$T/jpg" > /dev/null 2>&1 || { bad "toy pictures"; exit 1; }
cp "$T/png/images/000000.png" "$R/grids/heatmap.png"
cp "$T/png/images/000001.png" "$R/grids/"'<img src=x onerror="document.title=1">'"'&"$'\n'"x.png"
cp "$T/png/masks/000002.png" "$R/grids/mask.png"
cp "$T/jpg/images/000000.jpg" "$R/photo.jpg"
cat > "$R/scores.json" << 'EOF'
{"components": ["L1.H0", "L1.H1", "L1.H2"], "scores": {"colour": [0.61, 0.12, 0.05], "shape": [0.02, 0.44, 0.1]},
 "validation": {"within_components": 0.8, "between_average": 0.1}}
EOF
cat > "$R/tables/accuracy.md" << 'EOF'
# Worst-group accuracy

| model | worst group | average |
|---|--:|--:|
| toy <b>DeiT</b> | 0.41 | 0.93 |
EOF
printf 'heatmap.png\tA heatmap\n' > "$R/grids/captions.tsv"
NIMG=4

if "$V" report "$R" -o "$T/report.html" --title 'Toy <run>' > "$T/log" 2>&1; then
  H="$T/report.html"
  if [ "$(grep -o '<img ' "$H" | wc -l)" = $NIMG ] && [ "$(grep -o 'src="data:image/png;base64,' "$H" | wc -l)" = 3 ] &&
     [ "$(grep -o 'src="data:image/jpeg;base64,' "$H" | wc -l)" = 1 ]; then ok "4 pictures inlined (3 PNG, 1 JPEG)"
  else bad "pictures"; grep -o '<img [^>]\{0,60\}' "$H"; fi
  if ! grep -q 'src="http\|href="http\|<link\|url(' "$H" && grep -q "Content-Security-Policy\" content=\"default-src 'none'" "$H"
  then ok "self-contained: no external reference, a policy that forbids any"; else bad "external references"; fi
  if grep -q '<h1>Toy &lt;run&gt;</h1>' "$H" && ! grep -q '<img src=x' "$H" &&
     grep -q '&lt;img src=x onerror=&quot;document.title=1&quot;&gt;&#39;&amp;' "$H"; then ok "hostile title and file name escaped"
  else bad "escaping"; fi
  if grep -q '<th>components</th><th>scores.colour</th><th>scores.shape</th>' "$H" &&
     grep -q '<tr><th>model</th><th>worst group</th><th>average</th></tr><tr><td>toy &lt;b&gt;DeiT&lt;/b&gt;</td>' "$H" &&
     grep -q 'A heatmap' "$H"; then ok "JSON and markdown tables, caption from the manifest"
  else bad "tables"; fi
  if grep -q "pictures 4, JSON files 1, markdown files 1" "$T/log" && grep -q "report  \[#*\]  6/6" "$T/log"
  then ok "summary and progress: $(tail -1 "$T/log")"; else bad "summary"; cat "$T/log"; fi
  if [ "$(ls -a "$T" | grep -c tmp)" = 0 ]; then ok "no temporary file left"; else bad "temporary left: $(ls -a "$T")"; fi
else
  bad "report"; cat "$T/log"
fi

if "$V" report "$R" --exclude 'mask*' --exclude tables -o "$T/ex.html" > "$T/log" 2>&1 && [ "$(grep -o '<img ' "$T/ex.html" | wc -l)" = 3 ] &&
   ! grep -q 'accuracy.md' "$T/ex.html"; then ok "--exclude: a picture and a directory left out"; else bad "--exclude"; cat "$T/log"; fi
rm -f "$T/ex.html"

# bad input
mkdir -p "$T/empty" "$T/other" "$T/badpng" "$T/badjson"
echo "text" > "$T/other/notes.txt"
printf '\x89PNG\r\n\x1a\n0000' > "$T/badpng/grid.png"
echo '{"a": ' > "$T/badjson/r.json"
expect "missing directory" "$T/nope: no such file or directory" "$V" report "$T/nope" -o "$T/out.html"
expect "empty directory" "$T/empty: no PNG, JPEG, JSON or markdown files to report" "$V" report "$T/empty" -o "$T/out.html"
expect "nothing to show" "$T/other: no PNG, JPEG, JSON or markdown files" "$V" report "$T/other" -o "$T/out.html"
expect "a file, not a directory" "scores.json: not a directory" "$V" report "$R/scores.json" -o "$T/out.html"
expect "unreadable PNG" "grid.png: not a readable PNG or JPEG picture" "$V" report "$T/badpng" -o "$T/out.html"
expect "bad JSON" "r.json: not valid JSON" "$V" report "$T/badjson" -o "$T/out.html"
expect "one good directory, one bad" "badpng/grid.png" "$V" report "$R" "$T/badpng" -o "$T/out.html"
expect "no output option" "no output file" "$V" report "$R"
expect "no directory" "no directory given" "$V" report -o "$T/out.html"
expect "-o without a value" "-o needs a value" "$V" report "$R" -o
expect "unknown option" "unknown option '--colour'" "$V" report "$R" --colour -o "$T/out.html"
expect "bad --max-images" "max-images needs an integer" "$V" report "$R" --max-images 0 -o "$T/out.html"
expect "output directory missing" "write failed|no such file" "$V" report "$R" -o "$T/out/r.html"
if "$V" report --help | grep -q "usage: vitrun report DIR"; then ok "--help"; else bad "--help"; fi

# the page in a headless browser
if ! command -v chromium > /dev/null 2>&1; then
  echo "ok - browser # skipped: chromium not installed"
else
  browse() {  # browse PAGE ARGS...: chromium headless on a fresh profile
    local page=$1 prof; shift
    prof=$(mktemp -d "$T/profile.XXXXXX")
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$prof" \
      --hide-scrollbars "$@" "file://$page" 2> "$T/chromium.log"
  }
  browse "$T/report.html" --dump-dom > "$T/dom.html"
  if grep -q "<body data-images=\"$NIMG\" data-decoded=\"$NIMG\">" "$T/dom.html"; then ok "browser: $NIMG of $NIMG pictures decoded"
  else bad "browser: decode counts: $(grep -o '<body[^>]*>' "$T/dom.html")"; tail -5 "$T/chromium.log"; fi
  if [ "$(grep -o '<img ' "$T/dom.html" | wc -l)" = $NIMG ] && grep -q '<title>Toy &lt;run&gt;</title>' "$T/dom.html"
  then ok "browser: no injected element, the title unchanged"; else bad "browser: DOM"; fi
  # a copy with one picture's data broken must count one fewer decoded
  sed '0,/base64,[A-Za-z0-9+\/]\{40\}/s//base64,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/' "$T/report.html" > "$T/broken.html"
  browse "$T/broken.html" --dump-dom > "$T/dom2.html"
  if grep -q "<body data-images=\"$NIMG\" data-decoded=\"$((NIMG - 1))\">" "$T/dom2.html"; then ok "browser: a broken picture is counted"
  else bad "browser: broken copy: $(grep -o '<body[^>]*>' "$T/dom2.html")"; fi
  browse "$T/report.html" --window-size=1000,1400 --screenshot="$T/shot.png" > /dev/null
  read -r w h colours ink < <("$B/test_report" --png-stats "$T/shot.png" 2> /dev/null)
  if [ "${w:-0}" = 1000 ] && [ "${h:-0}" = 1400 ] && [ "${colours:-0}" -gt 100 ] && awk -v f="${ink:-0}" 'BEGIN { exit !(f > 0.03) }'
  then ok "browser: screenshot ${w}x$h, $colours colours, $ink of it not background"
  else bad "browser: screenshot blank or missing: ${w:-?} ${h:-?} ${colours:-?} ${ink:-?}"; fi
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

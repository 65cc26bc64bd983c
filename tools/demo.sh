#!/bin/sh
# The demo behind `make demo`: build a small sample archive from
# tests/fixtures/sample, mount it as a sample reviewer, show what is inside.
# The passphrases of the demo principals are written to files in the demo
# folder: that is for the demo only; real principals type theirs at a prompt.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
coffer="$top/$O/coffer"
demo=${COFFER_DEMO_DIR:-${TMPDIR:-/tmp}/coffer-demo}
mnt="$demo/mnt"

if mountpoint -q "$mnt" 2>/dev/null; then fusermount3 -u "$mnt"; fi
rm -rf "$demo"
mkdir -p "$demo/secrets" "$mnt"
chmod 700 "$demo/secrets"
for p in ada rex ingest; do printf 'demo passphrase of %s\n' "$p" >"$demo/secrets/$p"; done
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step coffer init "$demo/archive" --admin ada --recovery-key-file "$demo/secrets/recovery.key"
"$coffer" init "$demo/archive" --admin ada --new-passphrase-file "$demo/secrets/ada" \
    --recovery-key-file "$demo/secrets/recovery.key"
step coffer principal add ... rex --role reviewer, ingest --role ingest
"$coffer" principal add "$demo/archive" rex --role reviewer --as ada \
    --passphrase-file "$demo/secrets/ada" --new-passphrase-file "$demo/secrets/rex"
"$coffer" principal add "$demo/archive" ingest --role ingest --as ada \
    --passphrase-file "$demo/secrets/ada" --new-passphrase-file "$demo/secrets/ingest"
"$coffer" principal list "$demo/archive"
step coffer import "$demo/archive" --as ingest tests/fixtures/sample/sample.jsonl
"$coffer" import "$demo/archive" --as ingest --passphrase-file "$demo/secrets/ingest" \
    "$top/tests/fixtures/sample/sample.jsonl"
step coffer chats "$demo/archive" --as ingest "   # ingest cannot read what it wrote"
"$coffer" chats "$demo/archive" --as ingest --passphrase-file "$demo/secrets/ingest"
step coffer grant "$demo/archive" "Harbour operations" --to rex --as ada
"$coffer" grant "$demo/archive" "Harbour operations" --to rex --as ada \
    --passphrase-file "$demo/secrets/ada" --reason "demo"
step coffer verify "$demo/archive"
"$coffer" verify "$demo/archive"
step coffer mount "$demo/archive" "$mnt" --as rex
"$coffer" mount "$demo/archive" "$mnt" --as rex --passphrase-file "$demo/secrets/rex"
step ls -lR "$mnt"
ls -lR "$mnt"
step cat "$mnt/Harbour operations/2025-03-10.txt"
cat "$mnt/Harbour operations/2025-03-10.txt"
step grep -r Customs "$mnt"
grep -r Customs "$mnt" || true
step "grep -rl 'Revenue' $demo/archive   # the store holds only ciphertext"
grep -rl Revenue "$demo/archive" || echo "(no match)"
step "coffer audit $demo/archive show | tail -n 6   # who did what: ids, never titles"
"$coffer" audit "$demo/archive" show | tail -n 6
step coffer audit "$demo/archive" verify
"$coffer" audit "$demo/archive" verify
printf '\nThe archive is mounted at %s as reviewer rex.\nUnmount it with:\n    fusermount3 -u %s\n' "$mnt" "$mnt"

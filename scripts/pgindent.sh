#!/usr/bin/env bash
# The C layout of PostgreSQL (pgindent's), applied with Debian's
# pg_bsd_indent and pgindent's options, to every C file of the project.
# The typedef names come from the debug information of the built library
# (as PostgreSQL's own typedef list does) and from our own typedefs, so
# run it after a build.
#
#   scripts/pgindent.sh           check: list the files that differ, exit 1
#   scripts/pgindent.sh --fix     rewrite them
set -uo pipefail
cd "$(dirname "$0")/.."

FIX=0
[ "${1:-}" = --fix ] && FIX=1
command -v pg_bsd_indent >/dev/null ||
	{ echo "pgindent.sh: pg_bsd_indent is missing (Debian package pg-bsd-indent)" >&2; exit 1; }
[ -f pyroscope.so ] ||
	{ echo "pgindent.sh: build first (make): the typedef list comes from pyroscope.so" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
{
	objdump -W --dwarf=info pyroscope.so 2>/dev/null |
		awk '/DW_TAG_typedef/ { t = 1; next } t && /DW_AT_name/ { print $NF; t = 0 }'
	# and every typedef of our own, used or not: one-line typedefs, and the
	# name closing a typedef's braces (only those: "} tmp;" closing a local
	# union variable made every "tmp.len = 0;" a declaration to pgindent)
	git ls-files 'src/*.[ch]' 'bgworkers/*.[ch]' 'test/*.[ch]' 'bench/*.[ch]' > "$WORK/files"
	xargs sed -n \
		-e 's/^typedef .*[[:space:]*]\([A-Za-z_][A-Za-z0-9_]*\);.*/\1/p' \
		-e 's/^typedef .*(\*\([A-Za-z_][A-Za-z0-9_]*\)).*/\1/p' < "$WORK/files"
	xargs awk '
		FNR == 1 { incomment = 0; intd = 0 }
		{
			# the line'"'"'s code: read left to right, without comments (which
			# may span lines) and string or character literals
			line = ""
			q = ""
			n = length($0)
			for (i = 1; i <= n; i++) {
				c = substr($0, i, 1)
				if (incomment) {
					if (c == "*" && substr($0, i + 1, 1) == "/") {
						incomment = 0
						i++
					}
				} else if (q != "") {
					if (c == "\\")
						i++
					else if (c == q)
						q = ""
				} else if (c == "/" && substr($0, i + 1, 1) == "*") {
					incomment = 1
					line = line " "
					i++
				} else if (c == "/" && substr($0, i + 1, 1) == "/")
					break
				else if (c == "\"" || c == "\047")
					q = c
				else
					line = line c
			}
		}
		line ~ /^[[:space:]]*typedef[[:space:]]/ && line !~ /;[[:space:]]*$/ { intd = 1; depth = 0 }
		intd {
			opened = gsub(/{/, "{", line)
			closed = gsub(/}/, "}", line)
			depth += opened - closed
			if (closed > 0 && depth == 0 && match(line, /}[[:space:]]*[A-Za-z_][A-Za-z0-9_]*;/)) {
				name = substr(line, RSTART + 1, RLENGTH - 2)
				gsub(/[[:space:]]/, "", name)
				print name
				intd = 0
			}
		}' < "$WORK/files"
} | sort -u > "$WORK/typedefs"

OPTS=(-bad -bap -bbb -bc -bl -cli1 -cp33 -cdb -nce -d0 -di12 -nfc1 -i4 -l79 -lp -lpl
	-nip -npro -sac -tpg -ts4 "-U$WORK/typedefs")

differ=0
while IFS= read -r f; do
	if ! pg_bsd_indent "${OPTS[@]}" "$f" "$WORK/out" 2>"$WORK/err"; then
		echo "pgindent.sh: $f: $(cat "$WORK/err")"
		differ=$((differ + 1))
		continue
	fi
	# pgindent's own post-processing: a function's return type on its own
	# line keeps one space before the '*'
	sed -E 's/^([A-Za-z_][A-Za-z0-9_ ]*[A-Za-z0-9_])[ \t]+\*$/\1 */' "$WORK/out" > "$WORK/fixed"
	if ! cmp -s "$f" "$WORK/fixed"; then
		if [ $FIX -eq 1 ]; then
			cp "$WORK/fixed" "$f"
			echo "pgindent.sh: reindented $f"
		else
			echo "pgindent.sh: $f differs from pgindent's layout:"
			diff -u "$f" "$WORK/fixed" | head -n 20
			differ=$((differ + 1))
		fi
	fi
done < <(git ls-files 'src/*.c' 'src/*.h' 'bgworkers/*.c' 'bgworkers/*.h' 'test/*.c' 'test/*.h' 'bench/*.c')

if [ $FIX -eq 0 ] && [ $differ -gt 0 ]; then
	echo "pgindent.sh: $differ file(s) differ; run scripts/pgindent.sh --fix"
	exit 1
fi
[ $FIX -eq 0 ] && echo "pgindent.sh: every C file has pgindent's layout"
exit 0

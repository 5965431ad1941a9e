#!/usr/bin/env bash
# Checks the layering of the C sources (docs/layout.md): every #include "..."
# of a file must name a header of its own folder or of a folder that folder
# may use.  The build enforces the same through include paths (Makefile);
# this check also catches relative paths ("../engine/engine.h") and the
# internal headers of another folder (*_int.h), and says which file and
# which include broke the rule.
#
#   scripts/check-layers.sh        exit 0 when every include is allowed
set -uo pipefail
cd "$(dirname "$0")/.."

# folder -> the folders whose headers it may include (besides its own)
declare -A MAY=(
	[src/core]="src/core/gen"
	[src/core/gen]=""
	[src/objstore]="src/core src/core/gen"
	[src/engine]="src/objstore src/core src/core/gen"
	[src/sql]="src/engine src/core src/core/gen"
	[bgworkers/http]="src/engine src/core src/core/gen"
	[bgworkers]="src/engine src/core src/core/gen"
	[src]="src/engine src/objstore bgworkers bgworkers/http src/core src/core/gen"
)

# where a header of that name lives (our own headers have unique names)
declare -A HOME_OF
while IFS= read -r h; do
	name=${h##*/}
	if [ -n "${HOME_OF[$name]:-}" ]; then
		echo "check-layers: header name $name is used twice: ${HOME_OF[$name]} and ${h%/*}" >&2
		exit 1
	fi
	HOME_OF[$name]=${h%/*}
done < <(git ls-files 'src/*.h' 'bgworkers/*.h'; ls src/core/gen/*.h 2>/dev/null)
# generated headers (protoc-c) may not exist before a build
for p in proto/*.proto; do
	n=$(basename "$p" .proto).pb-c.h
	HOME_OF[$n]=src/core/gen
	HOME_OF[gen/$n]=src/core/gen
done

bad=0
checked=0
while IFS= read -r f; do
	dir=${f%/*}
	allowed=" $dir ${MAY[$dir]-UNKNOWN} "
	if [[ $allowed == *" UNKNOWN "* ]]; then
		echo "check-layers: $f: folder $dir has no place in the layers (add it to scripts/check-layers.sh)"
		bad=$((bad + 1))
		continue
	fi
	while IFS=: read -r line inc; do
		checked=$((checked + 1))
		if [[ $inc == */../* || $inc == ../* ]]; then
			echo "check-layers: $f:$line: #include \"$inc\" climbs out of its folder"
			bad=$((bad + 1))
			continue
		fi
		home=${HOME_OF[$inc]:-}
		if [ -z "$home" ]; then
			home=${HOME_OF[${inc##*/}]:-}
		fi
		# not one of ours: a PostgreSQL or system header
		[ -z "$home" ] && continue
		if [[ $inc == *_int.h && $home != "$dir" ]]; then
			echo "check-layers: $f:$line: #include \"$inc\" is internal to $home"
			bad=$((bad + 1))
		elif [[ $allowed != *" $home "* ]]; then
			echo "check-layers: $f:$line: #include \"$inc\" ($home) is not allowed in $dir (it may use: ${MAY[$dir]:-nothing but itself})"
			bad=$((bad + 1))
		fi
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
			 sed 's/^\([0-9]*\):.*include[[:space:]]*"\([^"]*\)".*/\1:\2/')
done < <(git ls-files 'src/*.c' 'src/*.h' 'bgworkers/*.c' 'bgworkers/*.h')

if [ $bad -gt 0 ]; then
	echo "check-layers: $bad include(s) break the layering"
	exit 1
fi
echo "check-layers: $checked includes of our headers and PostgreSQL's checked, none breaks the layering"

# Sourced by the benchmarks.  They measure what is installed and install
# nothing: bench_require_install stops with a message when the extension
# built in this checkout is not the one PostgreSQL would load.
bench_require_install() {
	local pkglib
	pkglib=$(${PG_CONFIG:-pg_config} --pkglibdir)
	if [ ! -f pyroscope.so ] || ! cmp -s pyroscope.so "$pkglib/pyroscope.so"; then
		echo "$(basename "$0"): the installed extension is not this checkout's build;" \
			"run 'make with_llvm=no && make with_llvm=no install' first" >&2
		exit 1
	fi
}

# Build flavours of the fuzz targets, sourced by fuzz/campaign and .ci/run
# (from the repository root). See fuzz/README.md, "Build flavours".
#
#   fast  libFuzzer's coverage instrumentation on Sova and the targets, none on
#         the cryptographic primitive crates (fuzz/rustc-wrapper), and no
#         sanitizer (-s none). Every target but provider_differential is
#         fuzzed with it.
#   asan  cargo fuzz's default: AddressSanitizer and full instrumentation of
#         every crate. provider_differential, whose subject is the
#         primitives, is fuzzed with it, and every committed input of every
#         target is replayed with it and the real crypto provider.
#
#   fuzz_cargo FLAVOUR SUBCOMMAND [ARGS...]   e.g. fuzz_cargo fast run ratchet_parse dir
#   fuzz_flavour TARGET                       prints the flavour TARGET is fuzzed with

# .ci/run declares FUZZ_TOOLCHAIN read-only; elsewhere it defaults to nightly.
if [ -z "${FUZZ_TOOLCHAIN:-}" ]; then
    FUZZ_TOOLCHAIN=nightly
fi

fuzz_flavour() {
    case $1 in
    provider_differential) echo asan ;;
    *) echo fast ;;
    esac
}

# The subcommand comes first, then the flavour's options, then the rest.
fuzz_cargo() {
    local flavour=$1 sub=$2
    shift 2
    case $flavour in
    fast)
        RUSTC_WRAPPER="$PWD/fuzz/rustc-wrapper" \
            cargo +"$FUZZ_TOOLCHAIN" fuzz "$sub" -s none --target-dir fuzz/target/fast "$@"
        ;;
    asan)
        RUSTC_WRAPPER='' \
            cargo +"$FUZZ_TOOLCHAIN" fuzz "$sub" --target-dir fuzz/target/asan "$@"
        ;;
    *)
        echo "unknown fuzz build flavour '$flavour'" >&2
        return 2
        ;;
    esac
}

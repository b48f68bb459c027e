//! Names Python provides without the file defining them, as fixed lists (CPython 3.11's
//! `dir()`, private names left out), so the name rules need not run Python to know them.

/// The names every module sees: the builtins and the attributes Python sets on a module.
pub(super) fn builtins() -> impl Iterator<Item = &'static str> {
    const BUILTINS: &str = "\
    ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup \
    BlockingIOError BrokenPipeError BufferError BytesWarning ChildProcessError \
    ConnectionAbortedError ConnectionError ConnectionRefusedError ConnectionResetError \
    DeprecationWarning EOFError Ellipsis EncodingWarning EnvironmentError Exception \
    ExceptionGroup False FileExistsError FileNotFoundError FloatingPointError FutureWarning \
    GeneratorExit IOError ImportError ImportWarning IndentationError IndexError InterruptedError \
    IsADirectoryError KeyError KeyboardInterrupt LookupError MemoryError ModuleNotFoundError \
    NameError None NotADirectoryError NotImplemented NotImplementedError OSError OverflowError \
    PendingDeprecationWarning PermissionError ProcessLookupError RecursionError ReferenceError \
    ResourceWarning RuntimeError RuntimeWarning StopAsyncIteration StopIteration SyntaxError \
    SyntaxWarning SystemError SystemExit TabError TimeoutError True TypeError UnboundLocalError \
    UnicodeDecodeError UnicodeEncodeError UnicodeError UnicodeTranslateError UnicodeWarning \
    UserWarning ValueError Warning ZeroDivisionError abs aiter all anext any ascii bin bool \
    breakpoint bytearray bytes callable chr classmethod compile complex copyright credits \
    delattr dict dir divmod enumerate eval exec exit filter float format frozenset getattr \
    globals hasattr hash help hex id input int isinstance issubclass iter len license list \
    locals map max memoryview min next object oct open ord pow print property quit range repr \
    reversed round set setattr slice sorted staticmethod str sum super tuple type vars zip \
    __name__ __file__ __doc__ __spec__ __package__ __loader__ __builtins__ __debug__";
    BUILTINS.split_whitespace()
}

/// The public attributes of a builtin type an AttributeError can name (`'str' object has no
/// attribute ...`); `None` for any other type.
pub(super) fn type_attributes(type_name: &str) -> Option<impl Iterator<Item = &'static str>> {
    let attributes = match type_name {
        "str" => {
            "\
            capitalize casefold center count encode endswith expandtabs find format format_map index \
            isalnum isalpha isascii isdecimal isdigit isidentifier islower isnumeric isprintable \
            isspace istitle isupper join ljust lower lstrip maketrans partition removeprefix \
            removesuffix replace rfind rindex rjust rpartition rsplit rstrip split splitlines \
            startswith strip swapcase title translate upper zfill"
        }
        "bytes" => {
            "\
            capitalize center count decode endswith expandtabs find fromhex hex index isalnum \
            isalpha isascii isdigit islower isspace istitle isupper join ljust lower lstrip \
            maketrans partition removeprefix removesuffix replace rfind rindex rjust rpartition \
            rsplit rstrip split splitlines startswith strip swapcase title translate upper zfill"
        }
        "list" => {
            "\
            append clear copy count extend index insert pop remove reverse sort"
        }
        "dict" => {
            "\
            clear copy fromkeys get items keys pop popitem setdefault update values"
        }
        "set" => {
            "\
            add clear copy difference difference_update discard intersection intersection_update \
            isdisjoint issubset issuperset pop remove symmetric_difference \
            symmetric_difference_update union update"
        }
        "tuple" => {
            "\
            count index"
        }
        "int" => {
            "\
            as_integer_ratio bit_count bit_length conjugate denominator from_bytes imag numerator \
            real to_bytes"
        }
        "float" => {
            "\
            as_integer_ratio conjugate fromhex hex imag is_integer real"
        }
        _ => return None,
    };
    Some(attributes.split_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_names() {
        assert!(builtins().any(|b| b == "list"));
        assert!(builtins().any(|b| b == "ZeroDivisionError"));
        assert!(builtins().all(super::super::tree::is_identifier));
        let str_attributes: Vec<&str> = type_attributes("str").into_iter().flatten().collect();
        assert!(str_attributes.contains(&"upper") && str_attributes.contains(&"zfill"));
        assert!(type_attributes("Cart").is_none());
    }
}

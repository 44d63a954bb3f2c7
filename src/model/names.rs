//! Names of states as they are stored and sent: one macro gives an enum its
//! `as_str`, a checked `FromStr` and `Display`, so a name that is not one of
//! the enum's is an error naming the kind of state and the value.

/// A name that is not one of a state's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} (known: {})", .known.join(", "))]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
    pub known: &'static [&'static str],
}

/// `named!(Enum, "what", Variant => "name", …)`: `as_str`, `ALL`, `FromStr`
/// (exact names only), `Display`. The serde names must be the same; each
/// enum's unit test checks that.
macro_rules! named {
    ($t:ident, $what:literal, $($v:ident => $name:literal),+ $(,)?) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$v),+];

            /// The name stored and sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($t::$v => $name),+
                }
            }
        }

        impl std::str::FromStr for $t {
            type Err = $crate::model::names::UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($t::$v),)+
                    other => Err($crate::model::names::UnknownName {
                        what: $what,
                        value: other.to_string(),
                        known: &[$($name),+],
                    }),
                }
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[cfg(test)]
pub(crate) fn assert_serde_names<T>(all: &[T])
where
    T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Display + std::str::FromStr + PartialEq + std::fmt::Debug + Copy,
    <T as std::str::FromStr>::Err: std::fmt::Debug,
{
    for &v in all {
        let json = serde_json::to_value(v).unwrap();
        assert_eq!(json, serde_json::Value::String(v.to_string()), "{v:?}");
        assert_eq!(serde_json::from_value::<T>(json).unwrap(), v);
        assert_eq!(v.to_string().parse::<T>().unwrap(), v);
    }
}

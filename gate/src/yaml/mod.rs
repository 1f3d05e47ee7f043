//! Policy YAML: a positioned node tree ([`tree`]) and a strict serde decoder over it ([`de`]).

pub mod de;
pub mod tree;

pub use de::{DeError, from_node, go_field_name};
pub use tree::{Kind, Pos, TreeError, YNode};

/// A YAML decode failure, worded like the reference (`[2:1] unknown field "x"`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct YamlError(pub String);

/// Parses the first document of `src` and decodes it into `T` (`root` = Go struct name for errors).
pub fn decode<T: serde::de::DeserializeOwned>(
    src: &str,
    root: &'static str,
) -> Result<T, YamlError> {
    let tree = tree::parse(src).map_err(|e| YamlError(e.to_string()))?;
    decode_tree(&tree, root)
}

/// Decodes an already parsed tree.
pub fn decode_tree<T: serde::de::DeserializeOwned>(
    tree: &YNode,
    root: &'static str,
) -> Result<T, YamlError> {
    de::from_node::<T>(tree, root).map_err(|e| YamlError(e.to_string()))
}

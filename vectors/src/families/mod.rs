//! The vector files, one module each.

pub(crate) mod building_blocks;
pub(crate) mod primitives;

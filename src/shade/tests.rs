//! Unit tests of the shading stage.

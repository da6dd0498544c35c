//! placeholder while the 3x-UI client is written

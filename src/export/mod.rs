//! Writing a batch in another tool's layout: tt-inference-server's flat results folder.

pub mod tt;

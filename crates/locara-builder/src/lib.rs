//! Locara's builder.

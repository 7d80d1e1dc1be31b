mod api;
mod ops;

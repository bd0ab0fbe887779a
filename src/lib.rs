pub mod diagnostic;
pub mod load;
pub mod model;

//! Package URLs. (Being written.)

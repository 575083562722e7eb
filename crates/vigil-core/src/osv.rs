//! OSV records and `affected` evaluation. (Being written.)

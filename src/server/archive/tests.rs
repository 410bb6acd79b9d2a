//! Archive serving: placeholder replaced below.

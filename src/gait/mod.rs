//! The gait cycle: foot strikes and toe-offs found from the motion itself ([`events`]), and the
//! gait phase of every frame derived from them. Used to transplant pathologies at the right
//! moment of the cycle and to cut walks into cycles.

pub mod events;
pub mod normative;

pub use events::{
    FootEvents, GaitEventError, GaitEvents, detect_events, detect_events_from_joints, leg_phase,
};

//! The gait cycle and clinical gait analysis: foot strikes and toe-offs (stored or found from the
//! motion, [`events`]), gait cycles ([`cycles`]), Plug-in Gait joint angles of fitted poses
//! ([`kinematics`]), spatio-temporal parameters, normative bands ([`normative`]), GVS/GPS/MAP
//! ([`indices`]), left/right symmetry of the angles ([`symmetry`]) and the report that gathers
//! them ([`report`]). Events also place transplanted pathologies at the right moment of the cycle.

pub mod cycles;
pub mod events;
pub mod figures;
pub mod indices;
pub mod kinematics;
pub mod normative;
pub mod report;
pub mod spatiotemporal;
pub mod symmetry;

pub use events::{
    EventMethod, FootEvents, GaitEventError, GaitEvents, detect_events, detect_events_from_joints,
    detect_events_from_leg_joints, leg_phase,
};

//! Serializer for the admissions family: `cohort_user.added`,
//! `cohort_user.edu_status_updated` (`admissions.CohortUser`) and
//! `cohort.cohort_stage_updated` (`admissions.Cohort`).

use serde::{Deserialize, Serialize};
use wasmhook_plugin_shapes::{SlugRef, UserContact, UserName};
use wasmhook_sdk::{Decision, Error, Event, Result};

/// The cohort as a new member's payload shows it.
#[derive(Deserialize, Serialize)]
struct CohortSummary {
    id: u64,
    name: String,
    slug: String,
    kickoff_date: String,
    ending_date: Option<String>,
    stage: String,
    academy: SlugRef,
}

/// The member's academy profile.
#[derive(Deserialize, Serialize)]
struct ProfileAcademy {
    id: u64,
    email: String,
    first_name: String,
    last_name: String,
    phone: String,
    address: Option<String>,
}

/// `cohort_user.added`: the whole membership.
#[derive(Deserialize, Serialize)]
struct CohortUserAdded {
    id: u64,
    user: UserContact,
    cohort: CohortSummary,
    role: String,
    finantial_status: Option<String>,
    educational_status: Option<String>,
    watching: bool,
    created_at: String,
    updated_at: String,
    profile_academy: Option<ProfileAcademy>,
}

/// `cohort_user.edu_status_updated`: who, where, and the new status.
#[derive(Deserialize, Serialize)]
struct EduStatusUpdated {
    id: u64,
    user: UserName,
    cohort: SlugRef,
    role: String,
    educational_status: Option<String>,
    created_at: String,
    updated_at: String,
}

#[derive(Deserialize, Serialize)]
struct AcademyAddress {
    id: u64,
    name: String,
    slug: String,
    street_address: Option<String>,
    city: Option<String>,
    country: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct Syllabus {
    slug: String,
    name: String,
}

#[derive(Deserialize, Serialize)]
struct SyllabusVersion {
    version: u32,
    name: String,
    syllabus: Syllabus,
}

/// `cohort.cohort_stage_updated`: the cohort with its academy and syllabus.
#[derive(Deserialize, Serialize)]
struct Cohort {
    id: u64,
    slug: String,
    name: String,
    language: String,
    kickoff_date: String,
    ending_date: Option<String>,
    current_day: u32,
    current_module: Option<u32>,
    stage: String,
    academy: AcademyAddress,
    syllabus_version: Option<SyllabusVersion>,
    is_hidden_on_prework: Option<bool>,
    available_as_saas: bool,
}

#[wasmhook_sdk::serializer]
pub fn serialize(event: Event) -> Result<Decision> {
    match event.name.as_str() {
        "cohort_user.edu_status_updated" => Decision::deliver(&event.data::<EduStatusUpdated>()?),
        "cohort.cohort_stage_updated" => Decision::deliver(&event.data::<Cohort>()?),
        "cohort_user.added" | "cohort_user.changed" => Decision::deliver(&event.data::<CohortUserAdded>()?),
        other => Err(Error::msg(format!("the admissions serializer does not know event {other}"))),
    }
}

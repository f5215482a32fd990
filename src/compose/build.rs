//! `compose build`: each service with `build:` is an mlpack project (a directory with an
//! `mlpack.toml`), built by `build::build_project` and tagged with the service's image name.

use super::error::ComposeError;
use super::project::ComposeProject;
use crate::build::{self, BuildOptions, BuildReport, PipelineReporter};
use crate::context::Context;
use crate::project::Project;

/// Build the images of `services` (all with `build` when empty); one report per image.
pub fn build_services(
    context: &Context,
    project: &ComposeProject,
    services: &[String],
    options: &BuildOptions,
    reporter: &dyn PipelineReporter,
) -> Result<Vec<BuildReport>, ComposeError> {
    let mut reports = Vec::new();
    for service in project.selected(services)? {
        let Some(dir) = &service.build else {
            continue;
        };
        if !services.is_empty() && !services.contains(&service.name) {
            continue;
        }
        let mlpack_project = Project::load(dir).map_err(Box::new)?;
        let options = BuildOptions {
            tag: Some(service.image.clone()),
            ..options.clone()
        };
        reports.push(
            build::build_project(context, &mlpack_project, &options, reporter).map_err(Box::new)?,
        );
    }
    Ok(reports)
}

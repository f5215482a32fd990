//! `compose pull`: the images of the services that name an image and build none, pulled from
//! their registries and admitted into the store as `mlpack pull` does. `up` pulls the ones
//! the store lacks the same way, in a child `mlpack compose pull` (see `up`).

use super::error::ComposeError;
use super::project::{ComposeProject, Service};
use crate::context::Context;
use crate::oci::ImageReference;
use crate::oci::registry::{PullReport, TransferProgress};

/// Pull the images of `services` (all when empty) and their dependencies; one report each.
pub fn pull_services(
    context: &Context,
    project: &ComposeProject,
    services: &[String],
    progress: &dyn TransferProgress,
) -> Result<Vec<(ImageReference, PullReport)>, ComposeError> {
    let platform = ("linux", crate::arch::Arch::host().oci());
    let mut pulled = Vec::new();
    for service in project.selected(services)? {
        if !pulls(service) {
            continue;
        }
        let network = context.network().map_err(Box::new)?;
        let store = context.store()?;
        let report =
            crate::runtime::pull_admitted(network, store, &service.image, platform, progress)
                .map_err(|source| ComposeError::Pull {
                    service: service.name.clone(),
                    image: service.image.clone(),
                    source: Box::new(source),
                })?;
        pulled.push(report);
    }
    Ok(pulled)
}

/// Whether `compose pull` pulls the service's image: it names one and builds none.
pub(super) fn pulls(service: &Service) -> bool {
    service.build.is_none()
}

//! How many DynamoDB requests one API request made: an SDK interceptor counts into a task-local
//! counter that the request's span reads at the end (`count_requests`). Outside a counted scope
//! (init, tests) nothing is counted.

use std::cell::Cell;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

tokio::task_local! {
    static REQUESTS: Cell<u32>;
}

/// Counts every DynamoDB request sent (retries included: each costs a round trip).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountRequests;

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let _ = REQUESTS.try_with(|count| count.set(count.get() + 1));
        Ok(())
    }
}

/// Runs `work`, returning its output and the DynamoDB requests it sent.
pub async fn count_requests<F: Future>(work: F) -> (F::Output, u32) {
    REQUESTS
        .scope(Cell::new(0), async move {
            let output = work.await;
            (output, REQUESTS.with(Cell::get))
        })
        .await
}

//! Answering a request without a server (borrow timeout, server down): exactly one error per
//! request and a ReadyForQuery, as PostgreSQL would, so the client's connection stays usable.

use pgwire::{encode, ErrorFields, FrontendTag, TransactionStatus};

use crate::accept::ClientConn;
use crate::error::SessionError;

pub async fn refuse_request(
    client: &mut ClientConn,
    error: &ErrorFields,
) -> Result<(), SessionError> {
    let (tag, _) = client.read_message().await?;
    match tag {
        FrontendTag::Query | FrontendTag::FunctionCall | FrontendTag::Sync => {
            encode::error_response(&mut client.wbuf, error);
        }
        // Outside COPY, PostgreSQL ignores these; so do we.
        FrontendTag::CopyData | FrontendTag::CopyDone | FrontendTag::CopyFail => return Ok(()),
        FrontendTag::Terminate => return Err(SessionError::ClientGone),
        FrontendTag::Password => {
            return Err(pgwire::ProtocolError::Unexpected {
                tag: tag.byte(),
                context: "after authentication",
            }
            .into())
        }
        // Extended protocol: the error now (the client may be waiting after a Flush), then
        // skip to the Sync, as the server does after an error.
        _ => {
            encode::error_response(&mut client.wbuf, error);
            client.flush().await?;
            skip_to_sync(client).await?;
        }
    }
    encode::ready_for_query(&mut client.wbuf, TransactionStatus::Idle);
    client.flush().await
}

async fn skip_to_sync(client: &mut ClientConn) -> Result<(), SessionError> {
    loop {
        match client.read_message().await?.0 {
            FrontendTag::Sync => return Ok(()),
            FrontendTag::Terminate => return Err(SessionError::ClientGone),
            _ => {}
        }
    }
}

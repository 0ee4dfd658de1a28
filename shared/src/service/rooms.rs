//! The room picker: `GET /rooms` (search and page over HipChat's rooms) and `POST /rooms`
//! (create a notification room).
//!
//! HipChat pages by `start-index`; our cursor is that index, opaque to the client. A search
//! (`q`, case-insensitive substring of the name) filters HipChat's pages, reading at most
//! [`MAX_PAGES_PER_REQUEST`] of them per request so one picker call never eats the token's
//! rate limit (100 requests per 5 minutes); `next_cursor` continues where it stopped.

use serde::Serialize;

use crate::app::{Deps, Wiring};
use crate::domain::partner::PartnerId;
pub use crate::domain::room_picker::HIPCHAT_PAGE_SIZE;
use crate::domain::room_picker::{MAX_PAGES_PER_REQUEST, RoomQuery, encode_cursor};
use crate::error::AppError;
use crate::ports::chat::{ChatError, ChatService, ListRooms, NewRoom, Privacy, RoomSummary};
use crate::service::access::{PartnerChat, TokenRead};

/// One room in the picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PickerRoom {
    pub id: u64,
    pub name: String,
    pub privacy: String,
}

/// The `GET /rooms` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomList {
    pub items: Vec<PickerRoom>,
    pub next_cursor: Option<String>,
}

/// The `POST /rooms` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedRoom {
    pub id: u64,
    pub name: String,
    pub privacy: Privacy,
    pub topic: Option<String>,
}

/// Rooms for the picker: non-archived, public and private (those the token's user sees).
pub async fn list_rooms<W: Wiring>(
    deps: &Deps<W>,
    partner: &PartnerId,
    query: &RoomQuery,
) -> Result<RoomList, AppError> {
    let pc = deps.partner_chat(partner, TokenRead::Stored).await?;
    let needle = query.q.as_deref().map(str::to_lowercase);
    let matches = |r: &RoomSummary| needle.as_deref().is_none_or(|n| r.name.to_lowercase().contains(n));
    let mut items = Vec::new();
    let mut start = query.start;
    for _ in 0..MAX_PAGES_PER_REQUEST {
        let request = ListRooms {
            start_index: start,
            max_results: deps.room_page_size,
            include_private: true,
            include_archived: false,
        };
        let page = match deps.chat.list_rooms(&pc.access, &request).await {
            Ok(page) => page,
            Err(e) => return Err(failure(deps, partner, &pc, e).await),
        };
        for (i, room) in page.items.iter().enumerate() {
            if !matches(room) || room.is_archived {
                continue;
            }
            if items.len() == query.limit {
                return Ok(RoomList { items, next_cursor: Some(encode_cursor(start + i as u64)) });
            }
            items.push(PickerRoom { id: room.id, name: room.name.clone(), privacy: room.privacy.clone() });
        }
        if !page.has_next || page.items.is_empty() {
            return Ok(RoomList { items, next_cursor: None });
        }
        start += page.items.len() as u64;
    }
    Ok(RoomList { items, next_cursor: Some(encode_cursor(start)) })
}

/// Creates the room in HipChat (one call; never retried blindly).
pub async fn create_room<W: Wiring>(
    deps: &Deps<W>,
    partner: &PartnerId,
    room: &NewRoom,
) -> Result<CreatedRoom, AppError> {
    let pc = deps.partner_chat(partner, TokenRead::Stored).await?;
    match deps.chat.create_room(&pc.access, room).await {
        Ok(id) => {
            tracing::info!(partner_id = %partner, room_id = id, "notification room created");
            Ok(CreatedRoom { id, name: room.name.clone(), privacy: room.privacy, topic: room.topic.clone() })
        }
        Err(ChatError::NameTaken) => Err(AppError::RoomNameTaken(Some(room.name.clone()))),
        Err(e) => Err(failure(deps, partner, &pc, e).await),
    }
}

/// The problem for a failure, a rejected token recorded on the way.
async fn failure<W: Wiring>(deps: &Deps<W>, partner: &PartnerId, pc: &PartnerChat, e: ChatError) -> AppError {
    deps.chat_failure(partner, &pc.token, e, pc.access.base_url()).await
}

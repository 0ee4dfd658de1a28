### dynaBOARD ↔ HipChat: texts in English (shared/src/domain/messages.rs reads this file).
###
### Conventions:
### - A message may contain HTML markup (HipChat notifications use message_format html:
###   a, b, i, strong, em, br, code, pre, lists, tables). Write & < > as &amp; &lt; &gt; when
###   you mean the character, except in plain-text messages (marked below).
### - Every { $argument } is HTML-escaped (& < > " ') by messages.rs before it is filled in:
###   pass raw values, never escape them here again. Arguments may therefore go into
###   attribute values in double quotes (href="{ $room_url }").
### - No Unicode isolation marks are added around arguments (the output is HTML).
### - Every message id here must also be in de.ftl (a unit test checks it).

## Plain text (no markup, no arguments: used outside HTML as well)

# The default prefix of personal room names, "<prefix> - <First> <Last>".
room-prefix = dynaBOARD

# What a portal user is to the partner.
role-customer = customer
role-partner = partner
role-admin = admin

## A portal user, as chat requests and event notifications show them (the messages below
## reference it as { actor }, which gets their arguments).
## $name: the user's full name; $company (when $has_company is "yes"); $email; $role: a role-*
## text.

actor = <b>{ $name }</b>{ $has_company ->
        [yes] {" "}of { $company }
       *[no] {""}
    } ({ $role }, <a href="mailto:{ $email }">{ $email }</a>)

## Chat requests: the notification posted into the staff's notification room.
## $prefix: the room-name prefix; the arguments of actor; $room_name; $room_url: the room in
## HipChat's web app.

chat-request = [{ $prefix }] { actor } requests a chat.<br><a href="{ $room_url }">Go to room</a> “{ $room_name }”

## Events: the notification posted into the notification room for a portal event, one
## message per event type (event-comment-created-excerpt when the comment has an excerpt).
## $prefix: the room-name prefix; the arguments of actor (the user who did it); the issue, as
## issue-ref shows it: $issue_id, $issue_title, $issue_url (a link when $has_issue_url is
## "yes"); $excerpt: the start of the comment's text.

issue-ref = { $has_issue_url ->
        [yes] <a href="{ $issue_url }">issue #{ $issue_id } “{ $issue_title }”</a>
       *[no] issue #{ $issue_id } “{ $issue_title }”
    }
event-user-login = [{ $prefix }] { actor } logged in.
event-user-logout = [{ $prefix }] { actor } logged out.
event-comment-created = [{ $prefix }] { actor } commented on { issue-ref }.
event-comment-created-excerpt = [{ $prefix }] { actor } commented on { issue-ref }:<br><i>{ $excerpt }</i>
event-issue-created = [{ $prefix }] { actor } created { issue-ref }.
event-issue-approved = [{ $prefix }] { actor } approved { issue-ref }.
event-issue-disapproved = [{ $prefix }] { actor } disapproved { issue-ref }.

## Token-expiry warning: posted into the notification room before the HipChat token dies.
## $prefix: the room-name prefix; $expires_on: the expiry date (YYYY-MM-DD); $days: the days
## left; $tomorrow: "yes" when that is one day; $scopes: the scopes by their HipChat labels.

token-expiry = [{ $prefix }] <b>The HipChat token of the dynaBOARD integration expires { $tomorrow ->
        [yes] tomorrow
       *[no] in { $days } days
    }, on { $expires_on }.</b> After that the chat button and the notifications stop working.<br>Make a new token: log in to HipChat as the integration's user, open My Account → Edit Profile → API access, create a token labelled “dynaBOARD” with the scopes { $scopes }, and copy it.<br>Then replace it in dynaBOARD: Settings → HipChat → Token, paste it, save, and click Check connection.

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

## Chat requests: the notification posted into the staff's notification room.
## $prefix: the room-name prefix; $name: the user's full name; $company (when $has_company is
## "yes"); $email; $role: a role-* text; $room_name; $room_url: the room in HipChat's web app.

chat-request = [{ $prefix }] <b>{ $name }</b>{ $has_company ->
        [yes] {" "}of { $company }
       *[no] {""}
    } ({ $role }, <a href="mailto:{ $email }">{ $email }</a>) requests a chat.<br><a href="{ $room_url }">Go to room</a> “{ $room_name }”

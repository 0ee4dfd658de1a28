### dynaBOARD ↔ HipChat: Texte auf Deutsch (shared/src/domain/messages.rs liest diese Datei).
###
### Conventions (as in en.ftl):
### - A message may contain HTML markup (HipChat notifications use message_format html:
###   a, b, i, strong, em, br, code, pre, lists, tables). Write & < > as &amp; &lt; &gt; when
###   you mean the character, except in plain-text messages (marked below).
### - Every { $argument } is HTML-escaped (& < > " ') by messages.rs before it is filled in:
###   pass raw values, never escape them here again. Arguments may therefore go into
###   attribute values in double quotes (href="{ $room_url }").
### - No Unicode isolation marks are added around arguments (the output is HTML).
### - Every message id here must also be in en.ftl (a unit test checks it).

## Plain text (no markup, no arguments: used outside HTML as well)

# Das voreingestellte Präfix persönlicher Raumnamen, "<Präfix> - <Vorname> <Nachname>".
room-prefix = dynaBOARD

# Was ein Portalbenutzer für den Partner ist.
role-customer = Kunde
role-partner = Partner
role-admin = Admin

## A portal user, as chat requests and event notifications show them (the messages below
## reference it as { actor }, which gets their arguments).
## $name: the user's full name; $company (when $has_company is "yes"); $email; $role: a role-*
## text.

actor = <b>{ $name }</b>{ $has_company ->
        [yes] {" "}von { $company }
       *[no] {""}
    } ({ $role }, <a href="mailto:{ $email }">{ $email }</a>)

## Chat requests: the notification posted into the staff's notification room.
## $prefix: the room-name prefix; the arguments of actor; $room_name; $room_url: the room in
## HipChat's web app.

chat-request = [{ $prefix }] { actor } bittet um einen Chat.<br><a href="{ $room_url }">Zum Raum</a> „{ $room_name }“

## Events: the notification posted into the notification room for a portal event, one
## message per event type (event-comment-created-excerpt when the comment has an excerpt).
## $prefix: the room-name prefix; the arguments of actor (the user who did it); the issue, as
## issue-ref shows it: $issue_id, $issue_title, $issue_url (a link when $has_issue_url is
## "yes"); $excerpt: the start of the comment's text.

issue-ref = { $has_issue_url ->
        [yes] <a href="{ $issue_url }">Issue #{ $issue_id } „{ $issue_title }“</a>
       *[no] Issue #{ $issue_id } „{ $issue_title }“
    }
event-user-login = [{ $prefix }] { actor } hat sich angemeldet.
event-user-logout = [{ $prefix }] { actor } hat sich abgemeldet.
event-comment-created = [{ $prefix }] { actor } hat { issue-ref } kommentiert.
event-comment-created-excerpt = [{ $prefix }] { actor } hat { issue-ref } kommentiert:<br><i>{ $excerpt }</i>
event-issue-created = [{ $prefix }] { actor } hat { issue-ref } erstellt.
event-issue-approved = [{ $prefix }] { actor } hat { issue-ref } freigegeben.
event-issue-disapproved = [{ $prefix }] { actor } hat { issue-ref } abgelehnt.

## Token-expiry warning: posted into the notification room before the HipChat token dies.
## $prefix: the room-name prefix; $expires_on: the expiry date (YYYY-MM-DD); $days: the days
## left; $tomorrow: "yes" when that is one day; $scopes: the scopes by their HipChat labels.

token-expiry = [{ $prefix }] <b>Das HipChat-Token der dynaBOARD-Integration läuft { $tomorrow ->
        [yes] morgen
       *[no] in { $days } Tagen
    } ab, am { $expires_on }.</b> Danach funktionieren der Chat-Button und die Benachrichtigungen nicht mehr.<br>Neues Token erstellen: Melden Sie sich in HipChat als Benutzer der Integration an, öffnen Sie My Account → Edit Profile → API access, erstellen Sie ein Token mit der Bezeichnung „dynaBOARD“ und den Scopes { $scopes } und kopieren Sie es.<br>Dann in dynaBOARD ersetzen: Einstellungen → HipChat → Token, einfügen, speichern und auf „Verbindung prüfen“ klicken.

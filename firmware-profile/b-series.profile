# Firmware profile of the B Series appliance (Remote Support / Privileged Remote Access).
#
# Built into liboutbound-events as its default; shipped as a file so that a firmware with other
# events can start from it. Format: one "key = value" per line, "#" starts a comment.
#   name                      the firmware's name, for logs and status
#   version                   schema version, sent as the "version" variable of every event
#   event.<name>.label        the label shown to people (email subjects, alerts)
#   event.<name>.http         true if HTTP recipients may select the event
#   event.<name>.email        true if email recipients may select the event
#   default.http.<key>        default of an HTTP recipient setting for this firmware
#   default.email.<key>       default of an email recipient setting for this firmware
# Event names are machine names: lowercase letters, digits and underscores.

name = B Series
version = 3

event.support_conference_begin.label = Session start
event.support_conference_begin.http = true
event.support_conference_begin.email = false

event.support_conference_end.label = Session end
event.support_conference_end.http = true
event.support_conference_end.email = true

event.support_conference_owner_changed.label = Session ownership change
event.support_conference_owner_changed.http = true
event.support_conference_owner_changed.email = false

event.support_conference_member_added.label = Someone joins a session
event.support_conference_member_added.http = true
event.support_conference_member_added.email = false

event.support_conference_member_departed.label = Someone leaves a session
event.support_conference_member_departed.http = true
event.support_conference_member_departed.email = false

event.support_conference_customer_exit_survey_completed.label = Customer exit survey completed
event.support_conference_customer_exit_survey_completed.http = true
event.support_conference_customer_exit_survey_completed.email = true

event.support_conference_rep_exit_survey_completed.label = Representative survey completed
event.support_conference_rep_exit_survey_completed.http = true
event.support_conference_rep_exit_survey_completed.email = true

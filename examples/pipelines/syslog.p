# rsyslog lines (RFC 3339 timestamps): timestamp, host, program[pid]: message.
grok(_, "%{TIMESTAMP_ISO8601:time} %{SYSLOGHOST:syslog_host} %{PROG:program}(?:\\[%{POSINT:pid:int}\\])?: %{GREEDYDATA:msg}")
default_time(time)
set_tag(program)
set_tag(syslog_host)

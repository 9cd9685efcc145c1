# BSD syslog lines: timestamp, host, program[pid]: message.
grok(_, "%{SYSLOGTIMESTAMP:time} %{SYSLOGHOST:syslog_host} %{PROG:program}(?:\\[%{POSINT:pid:int}\\])?: %{GREEDYDATA:msg}")
default_time(time)
set_tag(program)
set_tag(syslog_host)

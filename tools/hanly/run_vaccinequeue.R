# Runs Hanly et al.'s own vaccineQueue model of the medium mass-vaccination hub and writes
# its figures (patients vaccinated per day, time in system, waits per station) as JSON.
#
# Their code is sourced unmodified from checkouts of their repositories (see README.md):
#   paper:  CBDRH/vaccineQueue R/arenaModel.R and R/arrivals.R (the code behind the paper's
#           figures; observation is an unlimited lag)
#   applet: CBDRH/vaccineQueueNetworks queueSimTool/R/arenaModel.R and R/helperFunctions.R
#           (their web applet, whose defaults are the medium hub; 50 observation chairs)
# The only thing added around it: a `queue_step` in the global environment that calls
# queuecomputer::queue_step and keeps each station's result, so that per-station waits can
# be read without editing their functions.
#
# Usage:
#   Rscript tools/hanly/run_vaccinequeue.R paper=DIR paper_commit=SHA applet=DIR \
#     applet_commit=SHA queuecomputer_commit=SHA out=FILE [replications=500] [seed=20220001]

suppressPackageStartupMessages({
  library(queuecomputer)
  library(dplyr)
  library(tidyr)
  library(magrittr)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
opt <- list(replications = "500", seed = "20220001")
for (a in args) {
  kv <- strsplit(a, "=", fixed = TRUE)[[1]]
  if (length(kv) != 2) stop("arguments are key=value, got: ", a)
  opt[[kv[1]]] <- kv[2]
}
for (key in c("paper", "paper_commit", "applet", "applet_commit", "queuecomputer_commit", "out")) {
  if (is.null(opt[[key]])) stop("missing argument ", key, "=...")
}
replications <- as.integer(opt$replications)
seed0 <- as.integer(opt$seed)

# The published medium hub (docs/sources.md#hanly-vaccinequeue-2022): 120 appointments an
# hour on the hour for 8 hours from minute 120, lateness normal(0, 5), 2 % no-shows;
# staff 4 preparation, 8 entrance, 12 registration, 8 assessment, 10 vaccination;
# 2 % adverse reactions (the applet's default; their paper code defaults to 1 %).
per_hour <- 120
staff <- list(nRsi = 4, nEnt = 8, nReg = 12, nAss = 8, nVac = 10)
fail_p <- 0.02

captured <- new.env()
queue_step <- function(arrivals, service, servers = 1, labels = NULL) {
  q <- queuecomputer::queue_step(arrivals, service, servers, labels)
  captured$queues[[length(captured$queues) + 1]] <- q
  q
}

station_names <- c("preparation", "entrance", "registration", "assessment", "vaccination")

one_day <- function(run_model, seed) {
  set.seed(seed)
  captured$queues <- list()
  out <- run_model()
  queues <- captured$queues
  total <- out$qTimes$mins[out$qTimes$station == "Total"]
  record <- list(
    seed = seed,
    vaccinated = length(total),
    time_in_system_mean = mean(total),
    time_in_system_median = median(total),
    time_in_system_p90 = unname(quantile(total, 0.9))
  )
  for (k in seq_along(station_names)) {
    q <- queues[[k]]$departures_df
    record[[paste0(station_names[k], "_mean_wait")]] <- mean(q$waiting)
    record[[paste0(station_names[k], "_p_wait")]] <- mean(q$waiting > 1e-9)
    record[[paste0(station_names[k], "_utilisation")]] <- summary(queues[[k]])$utilization
  }
  # Share of patients whose vaccination waited for a prepared syringe: their arrival at the
  # vaccination queue is the syringe's ready time, not their own walk's end.
  ready <- queues[[1]]$departures
  vac_arrivals <- queues[[5]]$departures_df$arrivals
  record$waited_for_syringe <- max(mean(vac_arrivals == ready), mean(vac_arrivals == sort(ready)))
  if (length(queues) >= 6) {
    record$observation_mean_wait <- mean(queues[[6]]$departures_df$waiting)
  }
  record
}

interval <- function(x) {
  n <- length(x)
  half <- qt(0.975, n - 1) * sd(x) / sqrt(n)
  list(mean = mean(x), sd = sd(x), ci95 = c(mean(x) - half, mean(x) + half))
}

run_variant <- function(run_model, seed_offset) {
  seeds <- seed0 + seed_offset + seq_len(replications) - 1L
  days <- lapply(seeds, function(s) one_day(run_model, s))
  table <- bind_rows(lapply(days, as_tibble))
  list(
    replications = replications,
    seeds = sprintf("set.seed(%d) to set.seed(%d), one per replication", min(seeds), max(seeds)),
    summary = lapply(table[setdiff(names(table), "seed")], interval),
    per_replication = table
  )
}

# Paper code: arrivals() and arenaModel() from CBDRH/vaccineQueue.
# Each model's files are sourced into an environment of its own whose parent is the global
# one, so their calls to queue_step reach the recording wrapper above.
paper_env <- new.env()
source(file.path(opt$paper, "R", "arrivals.R"), local = paper_env)
source(file.path(opt$paper, "R", "arenaModel.R"), local = paper_env)
paper_model <- function() {
  arrivals <- paper_env$arrivals(per_hour, 60, 0, 5, 0.02)
  do.call(paper_env$arenaModel, c(list(arrivals = arrivals), staff, list(failP = fail_p)))
}
started <- Sys.time()
load_at_start <- readLines("/proc/loadavg", n = 1)
paper <- run_variant(paper_model, 0L)

# Applet code: its arrivals() (helperFunctions.R) and arenaModel() with its defaults, which
# are the medium hub, as its server.R calls them (duration 8 h, head start 120 min).
applet_env <- new.env()
source(file.path(opt$applet, "queueSimTool", "R", "helperFunctions.R"), local = applet_env)
source(file.path(opt$applet, "queueSimTool", "R", "arenaModel.R"), local = applet_env)
applet_model <- function() {
  arrivals <- applet_env$arrivals(n = per_hour, interval = 60, mean = 0, sd = 5, ns = 0.02,
                                  startMin = 120, stopMin = 120 + 60 * 8 - 60)
  applet_env$arenaModel(arrivals = arrivals, duration = 8, failP = fail_p)
}
applet <- run_variant(applet_model, 100000L)
elapsed <- as.numeric(difftime(Sys.time(), started, units = "secs"))

result <- list(
  description = paste(
    "Hanly et al. 2022 (BMC Health Services Research 22:1059) medium mass-vaccination hub,",
    "run with their own R code; time 0 of the surge centre model is their minute 120."),
  generated_by = "tools/hanly/run_vaccinequeue.R",
  generated_at_utc = format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC"),
  wall_seconds = round(elapsed, 1),
  machine = list(
    cpu = sub("^model name\\s*:\\s*", "",
              grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)[1]),
    cores = parallel::detectCores(),
    load_average_at_start = load_at_start
  ),
  r_version = R.version.string,
  rng_kind = paste(RNGkind(), collapse = ", "),
  packages = list(
    queuecomputer = list(version = as.character(packageVersion("queuecomputer")),
                         repository = "github.com/AnthonyEbert/queuecomputer",
                         commit = opt$queuecomputer_commit),
    Rcpp = as.character(packageVersion("Rcpp")),
    RcppArmadillo = as.character(packageVersion("RcppArmadillo")),
    dplyr = as.character(packageVersion("dplyr")),
    tidyr = as.character(packageVersion("tidyr")),
    magrittr = as.character(packageVersion("magrittr"))
  ),
  parameters = list(appointments_per_hour = per_hour, hours = 8, first_appointment_min = 120,
                    lateness = "normal(0, 5)", no_show = 0.02, staff = staff,
                    adverse_reaction = fail_p),
  models = list(
    paper = c(list(repository = "github.com/CBDRH/vaccineQueue", commit = opt$paper_commit,
                   files = c("R/arrivals.R", "R/arenaModel.R")), paper),
    applet = c(list(repository = "github.com/CBDRH/vaccineQueueNetworks",
                    commit = opt$applet_commit,
                    files = c("queueSimTool/R/helperFunctions.R", "queueSimTool/R/arenaModel.R")),
               applet)
  )
)
write_json(result, opt$out, auto_unbox = TRUE, digits = 6, pretty = TRUE, dataframe = "columns")
cat(sprintf("wrote %s: %d replications per model in %.1f s\n", opt$out, replications, elapsed))
for (name in c("paper", "applet")) {
  s <- result$models[[name]]$summary
  cat(sprintf("%s: vaccinated %.1f [%.1f, %.1f], time in system %.2f [%.2f, %.2f] min\n", name,
              s$vaccinated$mean, s$vaccinated$ci95[1], s$vaccinated$ci95[2],
              s$time_in_system_mean$mean, s$time_in_system_mean$ci95[1],
              s$time_in_system_mean$ci95[2]))
}

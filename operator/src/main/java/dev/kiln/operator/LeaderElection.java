package dev.kiln.operator;

import dev.kiln.operator.metrics.OperatorMetrics;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import jakarta.enterprise.context.Dependent;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import org.jboss.logging.Logger;

/**
 * The Lease through which the operator's replicas elect the one that reconciles (JOSDK asks for
 * this bean in the prod profile). The others start their informers and wait; when the leader stops
 * renewing, one of them takes over within the lease duration. A leader that cannot renew exits, so
 * two replicas never act at once for longer than the renew deadline allows.
 */
@Singleton
public class LeaderElection {

  private static final Logger LOG = Logger.getLogger(LeaderElection.class);

  @Produces
  @Dependent
  LeaderElectionConfiguration leaderElection(KilnOperatorConfig config, OperatorMetrics metrics) {
    KilnOperatorConfig.LeaderElectionSettings settings = config.leaderElection();
    if (!settings.enabled()) {
      LOG.info("leader election off: this operator must be the only one");
      return null;
    }
    metrics.leading(false);
    String identity = identity();
    // The local cluster reads the identity from this line (OperatorProcess.leaseIdentity).
    LOG.infof("leader election on: Lease %s, identity %s", settings.leaseName(), identity);
    LeaderElectionConfigurationBuilder builder = LeaderElectionConfigurationBuilder
        .aLeaderElectionConfiguration(settings.leaseName())
        .withIdentity(identity)
        .withLeaseDuration(Duration.ofSeconds(settings.leaseDurationSeconds()))
        .withRenewDeadline(Duration.ofSeconds(settings.renewDeadlineSeconds()))
        .withRetryPeriod(Duration.ofSeconds(settings.retryPeriodSeconds()))
        .withLeaderCallbacks(new LeaderCallbacks(
            () -> {
              LOG.infof("%s leads: reconciling from now on", identity);
              metrics.leading(true);
            },
            () -> {
              LOG.warnf("%s stopped leading", identity);
              metrics.leading(false);
            },
            leader -> LOG.infof("the leader is %s", leader)));
    settings.leaseNamespace().ifPresent(builder::withLeaseNamespace);
    return builder.build();
  }

  /** The pod's name in a cluster (one per replica); host and process id where several share a host. */
  private static String identity() {
    String pod = System.getenv("POD_NAME");
    if (pod != null && !pod.isBlank()) {
      return pod;
    }
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      host = "kiln-operator";
    }
    return host + "-" + ProcessHandle.current().pid();
  }
}

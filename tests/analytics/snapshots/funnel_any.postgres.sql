WITH "t16" AS (
  SELECT
    "t11"."id_type",
    "t11"."id_value",
    MIN("t11"."profile_id") AS "profile_id"
  FROM (
    SELECT
      *
    FROM "profile_identifiers" AS "t5"
    WHERE
      "t5"."status" = 'linked'
  ) AS "t11"
  GROUP BY
    1,
    2
), "t40" AS (
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        COALESCE("t31"."profile_id", "t28"."found") AS "person",
        "t31"."ts",
        "t31"."m0",
        "t31"."m1",
        "t31"."m2",
        "t31"."channel" AS "d_channel"
      FROM (
        SELECT
          "t20"."delivery_id",
          "t20"."channel",
          "t20"."campaign_id",
          "t20"."journey_id",
          "t20"."step_id",
          "t20"."profile_id",
          "t20"."recipient",
          "t20"."template",
          "t20"."status",
          "t20"."error",
          "t20"."provider_message_id",
          "t20"."queued_at",
          "t20"."sent_at",
          "t20"."outbox_id",
          "t20"."at",
          "t20"."kind",
          "t20"."origin",
          "t20"."template_version",
          "t20"."attempt",
          "t20"."reason",
          "t20"."ts",
          "t20"."cid",
          "t20"."cname",
          COALESCE("t20"."cname", "t20"."campaign_id") AS "d_campaign_",
          FALSE AS "m0",
          FALSE AS "m1",
          "t20"."status" = 'clicked' AS "m2"
        FROM (
          SELECT
            "t15"."delivery_id",
            "t15"."channel",
            "t15"."campaign_id",
            "t15"."journey_id",
            "t15"."step_id",
            "t15"."profile_id",
            "t15"."recipient",
            "t15"."template",
            "t15"."status",
            "t15"."error",
            "t15"."provider_message_id",
            "t15"."queued_at",
            "t15"."sent_at",
            "t15"."outbox_id",
            "t15"."at",
            "t15"."kind",
            "t15"."origin",
            "t15"."template_version",
            "t15"."attempt",
            "t15"."reason",
            "t15"."ts",
            "t14"."cid",
            "t14"."cname"
          FROM (
            SELECT
              "t3"."delivery_id",
              "t3"."channel",
              "t3"."campaign_id",
              "t3"."journey_id",
              "t3"."step_id",
              "t3"."profile_id",
              "t3"."recipient",
              "t3"."template",
              "t3"."status",
              "t3"."error",
              "t3"."provider_message_id",
              "t3"."queued_at",
              "t3"."sent_at",
              "t3"."outbox_id",
              "t3"."at",
              "t3"."kind",
              "t3"."origin",
              "t3"."template_version",
              "t3"."attempt",
              "t3"."reason",
              COALESCE("t3"."at", "t3"."sent_at", "t3"."queued_at") AS "ts"
            FROM "deliveries" AS "t3"
            WHERE
              COALESCE("t3"."at", "t3"."sent_at", "t3"."queued_at") >= CAST('2026-03-02T00:00:00' AS TIMESTAMP)
              AND COALESCE("t3"."at", "t3"."sent_at", "t3"."queued_at") < CAST('2026-04-08T00:00:00' AS TIMESTAMP)
          ) AS "t15"
          LEFT OUTER JOIN (
            SELECT
              "t4"."campaign_id" AS "cid",
              MIN("t4"."name") AS "cname"
            FROM "campaigns" AS "t4"
            GROUP BY
              1
          ) AS "t14"
            ON "t15"."campaign_id" = "t14"."cid"
        ) AS "t20"
        WHERE
          FALSE OR FALSE OR (
            "t20"."status" = 'clicked'
          )
      ) AS "t31"
      LEFT OUTER JOIN (
        SELECT
          "t18"."id_value",
          MIN("t18"."profile_id") AS "found"
        FROM "t16" AS "t18"
        GROUP BY
          1
      ) AS "t28"
        ON TRIM(' 	
' FROM "t31"."recipient") = "t28"."id_value"
    ) AS "t35"
    WHERE
      "t35"."person" IS NOT NULL AND "t35"."ts" IS NOT NULL
  ) AS "t36"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        COALESCE(
          "t26"."u_profile",
          "t27"."a_profile",
          'user_id:' || "t25"."user_id",
          'anonymous_id:' || "t25"."anonymous_id"
        ) AS "person",
        "t25"."ts",
        "t25"."m0",
        "t25"."m1",
        "t25"."m2",
        "t25"."d_channel"
      FROM (
        SELECT
          "t1"."user_id",
          "t1"."anonymous_id",
          "t1"."source",
          COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") AS "ts",
          (
            "t1"."event" = 'Product Viewed'
          )
          AND COALESCE(
            CASE
              WHEN JSON_TYPEOF(JSON_EXTRACT_PATH(CAST("t1"."properties" AS JSON), 'price')) = 'number'
              THEN CAST(JSON_EXTRACT_PATH_TEXT(
                JSON_EXTRACT_PATH(CAST("t1"."properties" AS JSON), 'price'),
                VARIADIC ARRAY[]::TEXT[]
              ) AS DOUBLE PRECISION)
              ELSE NULL
            END >= 100.0,
            FALSE
          ) AS "m0",
          "t1"."event" = 'Product Added' AS "m1",
          FALSE AS "m2",
          "t1"."channel" AS "d_channel"
        FROM "events" AS "t1"
        WHERE
          COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") >= CAST('2026-03-02T00:00:00' AS TIMESTAMP)
          AND COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") < CAST('2026-04-08T00:00:00' AS TIMESTAMP)
          AND CAST(ARRAY['Product Added', 'Product Viewed'] AS VARCHAR[]) @> ARRAY[CAST("t1"."event" AS VARCHAR)]
          AND (
            (
              (
                "t1"."event" = 'Product Viewed'
              )
              AND COALESCE(
                CASE
                  WHEN JSON_TYPEOF(JSON_EXTRACT_PATH(CAST("t1"."properties" AS JSON), 'price')) = 'number'
                  THEN CAST(JSON_EXTRACT_PATH_TEXT(
                    JSON_EXTRACT_PATH(CAST("t1"."properties" AS JSON), 'price'),
                    VARIADIC ARRAY[]::TEXT[]
                  ) AS DOUBLE PRECISION)
                  ELSE NULL
                END >= 100.0,
                FALSE
              )
            )
            OR (
              "t1"."event" = 'Product Added'
            )
            OR FALSE
          )
          AND COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") IS NOT NULL
          AND (
            (
              "t1"."user_id" IS NOT NULL
            ) OR (
              "t1"."anonymous_id" IS NOT NULL
            )
          )
      ) AS "t25"
      LEFT OUTER JOIN (
        SELECT
          "t18"."id_type" AS "u_type",
          "t18"."id_value" AS "u_value",
          "t18"."profile_id" AS "u_profile"
        FROM "t16" AS "t18"
        WHERE
          "t18"."id_type" IN ('marketplace_buyer_id', 'user_id')
      ) AS "t26"
        ON CASE
          WHEN "t25"."source" = 'tmall'
          THEN 'marketplace_buyer_id'
          ELSE CASE WHEN "t25"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
        END = "t26"."u_type"
        AND "t25"."user_id" = "t26"."u_value"
      LEFT OUTER JOIN (
        SELECT
          "t18"."id_type" AS "a_type",
          "t18"."id_value" AS "a_value",
          "t18"."profile_id" AS "a_profile"
        FROM "t16" AS "t18"
        WHERE
          "t18"."id_type" IN ('anonymous_id', 'wechat_openid')
      ) AS "t27"
        ON CASE WHEN "t25"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END = "t27"."a_type"
        AND "t25"."anonymous_id" = "t27"."a_value"
    ) AS "t33"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          COALESCE("t9"."r_profile", 'user_id:' || "t34"."user_id") AS "person",
          "t34"."ordered_at" AS "ts",
          "t34"."m0",
          "t34"."m1",
          "t34"."m2",
          "t34"."channel" AS "d_channel"
        FROM (
          SELECT
            "t29"."order_id",
            "t29"."source",
            "t29"."channel",
            "t29"."store_id",
            "t29"."customer_record_id",
            "t29"."user_id",
            "t29"."anonymous_id",
            "t29"."ordered_at",
            "t29"."status",
            "t29"."currency",
            "t29"."subtotal",
            "t29"."discount",
            "t29"."tax",
            "t29"."shipping",
            "t29"."total",
            "t29"."campaign_id",
            "t29"."coupon",
            "t29"."fulfilment",
            "t29"."attributes",
            "t29"."updated_at",
            "t29"."loaded_at",
            "t29"."cid",
            "t29"."cname",
            FALSE AS "m0",
            FALSE AS "m1",
            TRUE AND LOWER("t29"."channel") IN ('store') AS "m2"
          FROM (
            SELECT
              "t19"."order_id",
              "t19"."source",
              "t19"."channel",
              "t19"."store_id",
              "t19"."customer_record_id",
              "t19"."user_id",
              "t19"."anonymous_id",
              "t19"."ordered_at",
              "t19"."status",
              "t19"."currency",
              "t19"."subtotal",
              "t19"."discount",
              "t19"."tax",
              "t19"."shipping",
              "t19"."total",
              "t19"."campaign_id",
              "t19"."coupon",
              "t19"."fulfilment",
              "t19"."attributes",
              "t19"."updated_at",
              "t19"."loaded_at",
              "t14"."cid",
              "t14"."cname"
            FROM (
              SELECT
                *
              FROM "orders" AS "t6"
              WHERE
                NOT (
                  LOWER(COALESCE("t6"."status", '')) IN ('cancelled', 'canceled', 'refunded', 'failed', 'voided')
                )
                AND "t6"."ordered_at" IS NOT NULL
                AND "t6"."ordered_at" >= CAST('2026-03-02T00:00:00' AS TIMESTAMP)
                AND "t6"."ordered_at" < CAST('2026-04-08T00:00:00' AS TIMESTAMP)
            ) AS "t19"
            LEFT OUTER JOIN (
              SELECT
                "t4"."campaign_id" AS "cid",
                MIN("t4"."name") AS "cname"
              FROM "campaigns" AS "t4"
              GROUP BY
                1
            ) AS "t14"
              ON "t19"."campaign_id" = "t14"."cid"
          ) AS "t29"
          WHERE
            FALSE OR FALSE OR (
              TRUE AND LOWER("t29"."channel") IN ('store')
            )
        ) AS "t34"
        LEFT OUTER JOIN (
          SELECT
            "t2"."source" AS "r_source",
            "t2"."record_id" AS "r_id",
            "t2"."profile_id" AS "r_profile"
          FROM "record_profiles" AS "t2"
        ) AS "t9"
          ON "t34"."source" = "t9"."r_source" AND "t34"."order_id" = "t9"."r_id"
      ) AS "t37"
      WHERE
        "t37"."person" IS NOT NULL
    ) AS "t38"
  ) AS "t39"
), "t49" AS (
  SELECT
    "t48"."e_person" AS "person",
    "t48"."d_channel",
    CASE
      WHEN CASE
        WHEN "t48"."f0" IS NOT NULL
        THEN CAST(COALESCE(
          (
            "t48"."f0" < "t48"."f0"
          ) OR (
            (
              "t48"."f0" = "t48"."f0"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f1" < "t48"."f0"
          )
          OR (
            (
              "t48"."f1" = "t48"."f0"
            ) AND FALSE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f2" < "t48"."f0"
          )
          OR (
            (
              "t48"."f2" = "t48"."f0"
            ) AND FALSE
          ),
          FALSE
        ) AS INT)
        ELSE CAST(NULL AS INT)
      END = 1
      THEN "t48"."f0"
      WHEN CASE
        WHEN "t48"."f1" IS NOT NULL
        THEN CAST(COALESCE(
          (
            "t48"."f0" < "t48"."f1"
          ) OR (
            (
              "t48"."f0" = "t48"."f1"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f1" < "t48"."f1"
          ) OR (
            (
              "t48"."f1" = "t48"."f1"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f2" < "t48"."f1"
          )
          OR (
            (
              "t48"."f2" = "t48"."f1"
            ) AND FALSE
          ),
          FALSE
        ) AS INT)
        ELSE CAST(NULL AS INT)
      END = 1
      THEN "t48"."f1"
      WHEN CASE
        WHEN "t48"."f2" IS NOT NULL
        THEN CAST(COALESCE(
          (
            "t48"."f0" < "t48"."f2"
          ) OR (
            (
              "t48"."f0" = "t48"."f2"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f1" < "t48"."f2"
          ) OR (
            (
              "t48"."f1" = "t48"."f2"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f2" < "t48"."f2"
          ) OR (
            (
              "t48"."f2" = "t48"."f2"
            ) AND TRUE
          ),
          FALSE
        ) AS INT)
        ELSE CAST(NULL AS INT)
      END = 1
      THEN "t48"."f2"
      ELSE CAST(NULL AS TIMESTAMP)
    END AS "t0",
    CASE
      WHEN CASE
        WHEN "t48"."f0" IS NOT NULL
        THEN CAST(COALESCE(
          (
            "t48"."f0" < "t48"."f0"
          ) OR (
            (
              "t48"."f0" = "t48"."f0"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f1" < "t48"."f0"
          )
          OR (
            (
              "t48"."f1" = "t48"."f0"
            ) AND FALSE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f2" < "t48"."f0"
          )
          OR (
            (
              "t48"."f2" = "t48"."f0"
            ) AND FALSE
          ),
          FALSE
        ) AS INT)
        ELSE CAST(NULL AS INT)
      END = 2
      THEN "t48"."f0"
      WHEN CASE
        WHEN "t48"."f1" IS NOT NULL
        THEN CAST(COALESCE(
          (
            "t48"."f0" < "t48"."f1"
          ) OR (
            (
              "t48"."f0" = "t48"."f1"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f1" < "t48"."f1"
          ) OR (
            (
              "t48"."f1" = "t48"."f1"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f2" < "t48"."f1"
          )
          OR (
            (
              "t48"."f2" = "t48"."f1"
            ) AND FALSE
          ),
          FALSE
        ) AS INT)
        ELSE CAST(NULL AS INT)
      END = 2
      THEN "t48"."f1"
      WHEN CASE
        WHEN "t48"."f2" IS NOT NULL
        THEN CAST(COALESCE(
          (
            "t48"."f0" < "t48"."f2"
          ) OR (
            (
              "t48"."f0" = "t48"."f2"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f1" < "t48"."f2"
          ) OR (
            (
              "t48"."f1" = "t48"."f2"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f2" < "t48"."f2"
          ) OR (
            (
              "t48"."f2" = "t48"."f2"
            ) AND TRUE
          ),
          FALSE
        ) AS INT)
        ELSE CAST(NULL AS INT)
      END = 2
      THEN "t48"."f2"
      ELSE CAST(NULL AS TIMESTAMP)
    END AS "t1",
    CASE
      WHEN CASE
        WHEN "t48"."f0" IS NOT NULL
        THEN CAST(COALESCE(
          (
            "t48"."f0" < "t48"."f0"
          ) OR (
            (
              "t48"."f0" = "t48"."f0"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f1" < "t48"."f0"
          )
          OR (
            (
              "t48"."f1" = "t48"."f0"
            ) AND FALSE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f2" < "t48"."f0"
          )
          OR (
            (
              "t48"."f2" = "t48"."f0"
            ) AND FALSE
          ),
          FALSE
        ) AS INT)
        ELSE CAST(NULL AS INT)
      END = 3
      THEN "t48"."f0"
      WHEN CASE
        WHEN "t48"."f1" IS NOT NULL
        THEN CAST(COALESCE(
          (
            "t48"."f0" < "t48"."f1"
          ) OR (
            (
              "t48"."f0" = "t48"."f1"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f1" < "t48"."f1"
          ) OR (
            (
              "t48"."f1" = "t48"."f1"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f2" < "t48"."f1"
          )
          OR (
            (
              "t48"."f2" = "t48"."f1"
            ) AND FALSE
          ),
          FALSE
        ) AS INT)
        ELSE CAST(NULL AS INT)
      END = 3
      THEN "t48"."f1"
      WHEN CASE
        WHEN "t48"."f2" IS NOT NULL
        THEN CAST(COALESCE(
          (
            "t48"."f0" < "t48"."f2"
          ) OR (
            (
              "t48"."f0" = "t48"."f2"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f1" < "t48"."f2"
          ) OR (
            (
              "t48"."f1" = "t48"."f2"
            ) AND TRUE
          ),
          FALSE
        ) AS INT) + CAST(COALESCE(
          (
            "t48"."f2" < "t48"."f2"
          ) OR (
            (
              "t48"."f2" = "t48"."f2"
            ) AND TRUE
          ),
          FALSE
        ) AS INT)
        ELSE CAST(NULL AS INT)
      END = 3
      THEN "t48"."f2"
      ELSE CAST(NULL AS TIMESTAMP)
    END AS "t2"
  FROM (
    SELECT
      "t47"."e_person",
      MIN("t47"."d_channel") FILTER(WHERE
        (
          "t47"."ts" = "t47"."t0"
        ) AND (
          "t47"."m0" OR "t47"."m1" OR "t47"."m2"
        )) AS "d_channel",
      MIN("t47"."ts") FILTER(WHERE
        "t47"."m0") AS "f0",
      MIN("t47"."ts") FILTER(WHERE
        "t47"."m1") AS "f1",
      MIN("t47"."ts") FILTER(WHERE
        "t47"."m2") AS "f2"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "t42"."person",
          "t42"."ts",
          "t42"."m0",
          "t42"."m1",
          "t42"."m2",
          "t42"."d_channel",
          "t45"."e_person",
          "t45"."t0"
        FROM "t40" AS "t42"
        INNER JOIN (
          SELECT
            "t43"."person" AS "e_person",
            MIN("t43"."ts") AS "t0"
          FROM (
            SELECT
              *
            FROM "t40" AS "t41"
            WHERE
              (
                "t41"."m0" OR "t41"."m1" OR "t41"."m2"
              )
              AND TRUE
              AND "t41"."ts" >= CAST('2026-03-02T00:00:00' AS TIMESTAMP)
              AND "t41"."ts" < CAST('2026-04-01T00:00:00' AS TIMESTAMP)
          ) AS "t43"
          GROUP BY
            1
        ) AS "t45"
          ON "t42"."person" = "t45"."e_person"
      ) AS "t46"
      WHERE
        "t46"."ts" >= "t46"."t0"
        AND "t46"."ts" <= (
          "t46"."t0" + INTERVAL '604800 SECOND'
        )
    ) AS "t47"
    GROUP BY
      1
  ) AS "t48"
)
SELECT
  "t73"."_all",
  "t73"."d_channel",
  "t73"."d_segment_vip",
  "t73"."entered_0",
  "t78"."entered_1",
  "t78"."median_1",
  "t78"."p90_1",
  "t79"."entered_2",
  "t79"."median_2",
  "t79"."p90_2"
FROM (
  SELECT
    "t69"."_all",
    "t69"."d_channel",
    "t69"."d_segment_vip",
    COUNT("t69"."t") AS "entered_0"
  FROM (
    SELECT
      "t66"."person",
      CASE WHEN "t66"."_all" THEN CAST(NULL AS VARCHAR) ELSE "t66"."d_channel" END AS "d_channel",
      "t66"."t0",
      "t66"."prev",
      "t66"."t",
      CASE WHEN "t66"."_all" THEN CAST(NULL AS VARCHAR) ELSE "t66"."d_segment_vip" END AS "d_segment_vip",
      "t66"."_all"
    FROM (
      SELECT
        "t63"."person",
        "t63"."d_channel",
        "t63"."t0",
        "t63"."prev",
        "t63"."t",
        "t63"."d_segment_vip",
        UNNEST(ARRAY[TRUE, FALSE]) AS "_all"
      FROM (
        SELECT
          "t60"."person",
          "t60"."d_channel",
          "t60"."t0",
          "t60"."prev",
          "t60"."t",
          "t60"."d_segment_vip"
        FROM (
          SELECT
            "t57"."person",
            "t57"."d_channel",
            "t57"."t0",
            "t57"."prev",
            "t57"."t",
            "t57"."member",
            CASE WHEN "t57"."member" IS NOT NULL THEN 'vip' ELSE 'not vip' END AS "d_segment_vip"
          FROM (
            SELECT
              "t54"."person",
              "t54"."d_channel",
              "t54"."t0",
              "t54"."prev",
              "t54"."t",
              "t12"."member"
            FROM (
              SELECT
                "t50"."person",
                "t50"."d_channel",
                "t50"."t0",
                "t50"."t0" AS "prev",
                "t50"."t0" AS "t"
              FROM "t49" AS "t50"
              WHERE
                "t50"."t0" IS NOT NULL
            ) AS "t54"
            LEFT OUTER JOIN (
              SELECT DISTINCT
                "t0"."profile_id" AS "member"
              FROM "segment_memberships" AS "t0"
              WHERE
                "t0"."segment" = 'vip' AND "t0"."exited_at" IS NULL
            ) AS "t12"
              ON "t54"."person" = "t12"."member"
          ) AS "t57"
        ) AS "t60"
      ) AS "t63"
    ) AS "t66"
  ) AS "t69"
  GROUP BY
    1,
    2,
    3
) AS "t73"
LEFT OUTER JOIN (
  SELECT
    "t74"."_all" AS "k1__all",
    "t74"."d_channel" AS "k1_d_channel",
    "t74"."d_segment_vip" AS "k1_d_segment_vip",
    "t74"."entered_1",
    "t74"."median_1",
    "t74"."p90_1"
  FROM (
    SELECT
      "t70"."_all",
      "t70"."d_channel",
      "t70"."d_segment_vip",
      COUNT("t70"."t") AS "entered_1",
      PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
        CAST(EXTRACT('epoch' FROM "t70"."t") - EXTRACT('epoch' FROM "t70"."prev") AS DOUBLE PRECISION)) AS "median_1",
      PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY
        CAST(EXTRACT('epoch' FROM "t70"."t") - EXTRACT('epoch' FROM "t70"."prev") AS DOUBLE PRECISION)) AS "p90_1"
    FROM (
      SELECT
        "t67"."person",
        CASE WHEN "t67"."_all" THEN CAST(NULL AS VARCHAR) ELSE "t67"."d_channel" END AS "d_channel",
        "t67"."t0",
        "t67"."prev",
        "t67"."t",
        CASE WHEN "t67"."_all" THEN CAST(NULL AS VARCHAR) ELSE "t67"."d_segment_vip" END AS "d_segment_vip",
        "t67"."_all"
      FROM (
        SELECT
          "t64"."person",
          "t64"."d_channel",
          "t64"."t0",
          "t64"."prev",
          "t64"."t",
          "t64"."d_segment_vip",
          UNNEST(ARRAY[TRUE, FALSE]) AS "_all"
        FROM (
          SELECT
            "t61"."person",
            "t61"."d_channel",
            "t61"."t0",
            "t61"."prev",
            "t61"."t",
            "t61"."d_segment_vip"
          FROM (
            SELECT
              "t58"."person",
              "t58"."d_channel",
              "t58"."t0",
              "t58"."prev",
              "t58"."t",
              "t58"."member",
              CASE WHEN "t58"."member" IS NOT NULL THEN 'vip' ELSE 'not vip' END AS "d_segment_vip"
            FROM (
              SELECT
                "t55"."person",
                "t55"."d_channel",
                "t55"."t0",
                "t55"."prev",
                "t55"."t",
                "t12"."member"
              FROM (
                SELECT
                  "t50"."person",
                  "t50"."d_channel",
                  "t50"."t0",
                  "t50"."t0" AS "prev",
                  "t50"."t1" AS "t"
                FROM "t49" AS "t50"
                WHERE
                  "t50"."t1" IS NOT NULL
              ) AS "t55"
              LEFT OUTER JOIN (
                SELECT DISTINCT
                  "t0"."profile_id" AS "member"
                FROM "segment_memberships" AS "t0"
                WHERE
                  "t0"."segment" = 'vip' AND "t0"."exited_at" IS NULL
              ) AS "t12"
                ON "t55"."person" = "t12"."member"
            ) AS "t58"
          ) AS "t61"
        ) AS "t64"
      ) AS "t67"
    ) AS "t70"
    GROUP BY
      1,
      2,
      3
  ) AS "t74"
) AS "t78"
  ON "t73"."_all" IS NOT DISTINCT FROM "t78"."k1__all"
  AND "t73"."d_channel" IS NOT DISTINCT FROM "t78"."k1_d_channel"
  AND "t73"."d_segment_vip" IS NOT DISTINCT FROM "t78"."k1_d_segment_vip"
LEFT OUTER JOIN (
  SELECT
    "t75"."_all" AS "k2__all",
    "t75"."d_channel" AS "k2_d_channel",
    "t75"."d_segment_vip" AS "k2_d_segment_vip",
    "t75"."entered_2",
    "t75"."median_2",
    "t75"."p90_2"
  FROM (
    SELECT
      "t71"."_all",
      "t71"."d_channel",
      "t71"."d_segment_vip",
      COUNT("t71"."t") AS "entered_2",
      PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
        CAST(EXTRACT('epoch' FROM "t71"."t") - EXTRACT('epoch' FROM "t71"."prev") AS DOUBLE PRECISION)) AS "median_2",
      PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY
        CAST(EXTRACT('epoch' FROM "t71"."t") - EXTRACT('epoch' FROM "t71"."prev") AS DOUBLE PRECISION)) AS "p90_2"
    FROM (
      SELECT
        "t68"."person",
        CASE WHEN "t68"."_all" THEN CAST(NULL AS VARCHAR) ELSE "t68"."d_channel" END AS "d_channel",
        "t68"."t0",
        "t68"."prev",
        "t68"."t",
        CASE WHEN "t68"."_all" THEN CAST(NULL AS VARCHAR) ELSE "t68"."d_segment_vip" END AS "d_segment_vip",
        "t68"."_all"
      FROM (
        SELECT
          "t65"."person",
          "t65"."d_channel",
          "t65"."t0",
          "t65"."prev",
          "t65"."t",
          "t65"."d_segment_vip",
          UNNEST(ARRAY[TRUE, FALSE]) AS "_all"
        FROM (
          SELECT
            "t62"."person",
            "t62"."d_channel",
            "t62"."t0",
            "t62"."prev",
            "t62"."t",
            "t62"."d_segment_vip"
          FROM (
            SELECT
              "t59"."person",
              "t59"."d_channel",
              "t59"."t0",
              "t59"."prev",
              "t59"."t",
              "t59"."member",
              CASE WHEN "t59"."member" IS NOT NULL THEN 'vip' ELSE 'not vip' END AS "d_segment_vip"
            FROM (
              SELECT
                "t56"."person",
                "t56"."d_channel",
                "t56"."t0",
                "t56"."prev",
                "t56"."t",
                "t12"."member"
              FROM (
                SELECT
                  "t50"."person",
                  "t50"."d_channel",
                  "t50"."t0",
                  "t50"."t1" AS "prev",
                  "t50"."t2" AS "t"
                FROM "t49" AS "t50"
                WHERE
                  "t50"."t2" IS NOT NULL
              ) AS "t56"
              LEFT OUTER JOIN (
                SELECT DISTINCT
                  "t0"."profile_id" AS "member"
                FROM "segment_memberships" AS "t0"
                WHERE
                  "t0"."segment" = 'vip' AND "t0"."exited_at" IS NULL
              ) AS "t12"
                ON "t56"."person" = "t12"."member"
            ) AS "t59"
          ) AS "t62"
        ) AS "t65"
      ) AS "t68"
    ) AS "t71"
    GROUP BY
      1,
      2,
      3
  ) AS "t75"
) AS "t79"
  ON "t73"."_all" IS NOT DISTINCT FROM "t79"."k2__all"
  AND "t73"."d_channel" IS NOT DISTINCT FROM "t79"."k2_d_channel"
  AND "t73"."d_segment_vip" IS NOT DISTINCT FROM "t79"."k2_d_segment_vip"
